"""One writer per record: the API, the import and the demo loader write the same
records with the same history, in batches, all or nothing."""

from __future__ import annotations

import json
import threading
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import bulk
from app.history import ChangeRecord
from app.pools.enterprise_writer import NewEnterprise, create_enterprises
from app.pools.models import Enterprise, EnterpriseTag, ImportBatch, Inspection, Inspector
from app.types import utcnow
from tests.factories import ApiClient, create_enterprise, create_inspector, uscc

INSPECTOR_HEADER = (
    "姓名,执法证号,执法证有效期起,执法证有效期止,所属单位,县市区,专业领域,在岗,联系电话"
)


def _upload(client: ApiClient, data: bytes, name: str, target: str) -> Any:
    return client.post(f"/api/v1/{target}/import", files={"file": (name, data)})


def _records(session: Session, entity: str) -> list[ChangeRecord]:
    query = select(ChangeRecord).where(ChangeRecord.entity == entity).order_by(ChangeRecord.id)
    return list(session.scalars(query))


def test_the_demo_pool_is_loaded_with_a_history_for_every_record(
    demo: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        enterprise_ids = set(session.scalars(select(Enterprise.id)))
        inspector_ids = set(session.scalars(select(Inspector.id)))
        inspection_ids = set(session.scalars(select(Inspection.id)))
        for entity, ids in (
            ("enterprise", enterprise_ids),
            ("inspector", inspector_ids),
            ("inspection", inspection_ids),
        ):
            records = _records(session, entity)
            assert ids, entity
            assert sorted(r.entity_id for r in records) == sorted(ids), entity
            assert {(r.action, r.actor, r.before, r.import_id) for r in records} == {
                ("create", "示例数据", None, None)
            }
    # what the history says was created is what the directory answers
    listed = demo.get("/api/v1/enterprises?page_size=5").json()["items"]
    for shown in listed:
        (made,) = demo.get(f"/api/v1/enterprises/{shown['id']}/history").json()["items"]
        after = made["after"]
        assert after["uscc"] == shown["uscc"] and after["name"] == shown["name"]
        assert after["county_code"] == shown["county"]
        assert after["tags"] == shown["tags"] and after["address"] == shown["address"]
        assert made["at"] == shown["created_at"]


def test_imported_inspectors_read_back_as_inspectors_made_one_by_one(
    client: ApiClient,
) -> None:
    one = create_inspector(client, cert_no="HN-0431-0100", name="逐条录入")
    data = (
        INSPECTOR_HEADER + "\r\n"
        "张明,HN-0431-0001,2024-01-01,2028-12-31,执法支队,石鼓区,危险化学品、烟花爆竹,是,13800000001\r\n"
    ).encode()
    response = _upload(client, data, "人员.csv", "inspectors")
    assert response.status_code == 200, response.text
    import_id = response.json()["import_id"]
    (imported,) = client.get("/api/v1/inspectors?q=HN-0431-0001").json()["items"]
    (made,) = client.get(f"/api/v1/inspectors/{one['id']}/history").json()["items"]
    (loaded,) = client.get(f"/api/v1/inspectors/{imported['id']}/history").json()["items"]
    assert (loaded["action"], loaded["import_id"], loaded["before"]) == ("create", import_id, None)
    assert made["import_id"] is None
    assert set(loaded["after"]) == set(made["after"])
    assert loaded["after"]["cert_no"] == "HN-0431-0001"
    assert loaded["after"]["specialties"] == ["fireworks", "hazchem"]
    assert loaded["after"]["cert_valid_from"] == "2024-01-01"
    same = {"cert_valid_from", "cert_valid_to", "unit", "county_code", "specialties", "active"}
    assert {k: loaded["after"][k] for k in same} == {k: made["after"][k] for k in same}
    # an API create after a bulk one gets an id of its own
    later = create_inspector(client, cert_no="HN-0431-0200")
    assert later["id"] not in {one["id"], imported["id"]}


def test_an_inspector_file_with_a_bad_last_row_writes_nothing(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    rows = [
        f"人员{n},HN-0431-{n:04d},2024-01-01,2028-12-31,执法支队,石鼓区,危险化学品,是,1380000{n:04d}"
        for n in range(1, 6)
    ]
    rows.append("坏行,HN-0431-0099,2024-01-01,2028-12-31,不存在的单位,,,是,")
    response = _upload(
        client, "\r\n".join([INSPECTOR_HEADER, *rows]).encode(), "人员.csv", "inspectors"
    )
    assert response.status_code == 422
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Inspector)) == 0
        assert session.scalar(select(func.count()).select_from(ChangeRecord)) == 0
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_an_inspection_file_adds_new_visits_with_history_and_keeps_known_ones(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    enterprise = create_enterprise(client, uscc=uscc(serial=1))
    known = client.post(
        "/api/v1/inspections",
        json={
            "uscc": enterprise["uscc"],
            "inspected_on": "2025-06-18",
            "kind": "county",
            "source": "衡南县应急管理局",
        },
    )
    assert known.status_code == 201, known.text
    data = (
        "统一社会信用代码,检查日期,检查类型,检查单位,备注\r\n"
        f"{enterprise['uscc']},2025-06-18,县级检查,衡南县应急管理局,\r\n"
        f"{enterprise['uscc']},2025-07-02,县级检查,衡南县应急管理局,复查\r\n"
        f"{enterprise['uscc']},2025-06-18,县级检查,衡阳县应急管理局,\r\n"
    ).encode()
    response = _upload(client, data, "检查.csv", "inspections")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["created"], report["unchanged"]) == (2, 1)
    again = _upload(client, data, "检查.csv", "inspections")
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 3)
    with session_factory() as session:
        records = _records(session, "inspection")
        stored = {i.id: i for i in session.scalars(select(Inspection))}
    assert len(stored) == 3
    assert sorted(r.entity_id for r in records) == sorted(stored)
    by_import = [r for r in records if r.import_id == report["import_id"]]
    assert len(by_import) == 2
    assert {(r.after or {})["inspected_on"] for r in by_import} == {"2025-06-18", "2025-07-02"}
    assert {(r.after or {})["note"] for r in by_import} == {"", "复查"}
    assert all((r.after or {})["uscc"] == enterprise["uscc"] for r in by_import)


def _new(serial: int) -> NewEnterprise:
    return NewEnterprise(
        uscc=uscc(serial=serial),
        name=f"批量企业{serial}有限公司",
        county_code="430422",
        sector="hazchem",
        subtype="gas_station",
        status="operating",
        risk_grade=None,
        key_supervision=False,
        pair_key=None,
        address="",
        tags=("major_hazard",),
    )


def test_a_batch_with_a_code_already_stored_is_refused_whole(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        create_enterprises(session, [_new(1)], actor="测试")
        session.commit()
    with session_factory() as session:
        with pytest.raises(IntegrityError):
            create_enterprises(session, [_new(2), _new(3), _new(1)], actor="测试")
        session.rollback()
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Enterprise)) == 1
        assert session.scalar(select(func.count()).select_from(EnterpriseTag)) == 1
        assert session.scalar(select(func.count()).select_from(ChangeRecord)) == 1


def test_two_transactions_taking_ids_at_once_never_share_one(
    session_factory: sessionmaker[Session],
) -> None:
    """SQLite: the second waits for the first's write lock; PostgreSQL: the sequence."""
    table = cast(Table, Enterprise.__table__)
    first = session_factory()
    taken = bulk.next_ids(first, table, 3)
    other: dict[str, Any] = {}

    def second() -> None:
        try:
            with session_factory() as session:
                other["ids"] = create_enterprises(session, [_new(10), _new(11)], actor="乙")
                session.commit()
        except Exception as exc:  # pragma: no cover - shown by the assertion below
            other["error"] = exc

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(timeout=0.5)  # on SQLite it is waiting for the lock: give it the chance to err
    new = [_new(1), _new(2), _new(3)]
    bulk.insert_rows(
        first,
        table,
        (
            "id",
            "uscc",
            "name",
            "county_code",
            "sector",
            "subtype",
            "status",
            "key_supervision",
            "address",
        ),  # fmt: skip
        [
            (id_, n.uscc, n.name, "430422", "hazchem", "gas_station", "operating", False, "")
            for id_, n in zip(taken, new, strict=True)
        ],  # fmt: skip
        same={"created_at": utcnow(), "updated_at": utcnow(), "version": 1},
    )
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert "error" not in other, other.get("error")
    assert not set(taken) & set(other["ids"])
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Enterprise)) == 5


_ANY_TEXT = st.text(alphabet=st.characters(codec=None), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_ANY_TEXT, min_size=9, max_size=9),
    optional=st.lists(st.one_of(st.none(), _ANY_TEXT), min_size=2, max_size=2),
    flag=st.booleans(),
    tags=st.lists(_ANY_TEXT, max_size=3),
)
def test_the_history_document_is_the_snapshot_as_the_encoder_writes_it(
    texts: list[str], optional: list[str | None], flag: bool, tags: list[str]
) -> None:
    """Quotes, backslashes, controls, lone surrogates, astral characters: the
    document put together by hand is byte for byte what json writes, and reads
    back as the snapshot."""
    uscc_, name, county, sector, subtype, status, address, *_ = texts
    new = NewEnterprise(uscc_, name, county, sector, subtype, status, optional[0], flag,
                        optional[1], address, tuple(tags))  # fmt: skip
    assert new.document() == bulk.encode(new.snapshot())
    if not any("\ud800" <= c <= "\udfff" for c in new.document()):
        assert json.loads(new.document()) == new.snapshot()
