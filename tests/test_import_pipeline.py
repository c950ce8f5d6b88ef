"""Inspectors and inspection records go through the same chunked pipeline as
enterprises: files longer than a chunk are validated and written a chunk at a
time, repeated keys name their first row across chunks, a problem anywhere
leaves nothing written, and the answers are those of a single pass."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.history import ChangeRecord
from app.pools import import_pipeline
from app.pools.models import ImportBatch, Inspection, Inspector
from tests.factories import create_enterprise, uscc
from tests.test_import import _upload

INSPECTOR_HEADER = (
    "姓名,执法证号,执法证有效期起,执法证有效期止,所属单位,县市区,专业领域,在岗,联系电话"
)
VISIT_HEADER = "统一社会信用代码,检查日期,检查类型,检查单位,备注"


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_pipeline, "CHUNK_ROWS", 2)


def _inspector(n: int, unit: str = "执法支队") -> str:
    return f"检查员{n},HN-0431-{n:04d},2024-01-01,2028-12-31,{unit},石鼓区,危险化学品,是,1380000{n:04d}"


def _file(header: str, lines: list[str]) -> bytes:
    return ("\r\n".join([header, *lines]) + "\r\n").encode()


def _count(session_factory: sessionmaker[Session], model: Any) -> int:
    with session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_inspectors_longer_than_a_chunk_are_upserted_in_file_order(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    first = _upload(client, _file(INSPECTOR_HEADER, [_inspector(n) for n in range(1, 6)]),
                    name="人员.csv", target="inspectors")  # fmt: skip
    assert first.status_code == 200, first.text
    assert (first.json()["created"], first.json()["updated"]) == (5, 0)
    # Seven rows in four chunks: two stored ones changed, one stored as it is, four new.
    lines = [_inspector(n) for n in range(6, 10)] + [
        _inspector(2, unit="危化烟花科"),
        _inspector(3),
        _inspector(4, unit="危化烟花科"),
    ]
    again = _upload(client, _file(INSPECTOR_HEADER, lines), name="人员.csv", target="inspectors")
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["rows"], body["created"], body["updated"], body["unchanged"]) == (7, 4, 2, 1)
    assert [(c["row"], c["action"]) for c in body["changes"]] == [
        (2, "create"), (3, "create"), (4, "create"), (5, "create"), (6, "update"), (8, "update"),
    ]  # fmt: skip
    assert body["changes"][4]["fields"] == [
        {"field": "unit", "column": "E（所属单位）", "old": "执法支队", "new": "危化烟花科"}
    ]
    assert _count(session_factory, Inspector) == 9
    with session_factory() as session:
        batch = session.scalars(
            select(ImportBatch).where(ImportBatch.id == body["import_id"])
        ).one()
        assert (batch.rows, batch.created, batch.updated, batch.unchanged) == (7, 4, 2, 1)


def test_a_repeated_certificate_names_its_first_row_across_chunks(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    lines = [_inspector(n) for n in range(1, 7)] + [_inspector(2), _inspector(5)]
    answer = _upload(client, _file(INSPECTOR_HEADER, lines), name="人员.csv", target="inspectors")
    assert answer.status_code == 422
    assert [(e["row"], e["code"], e["message"]) for e in answer.json()["errors"]] == [
        (8, "duplicate_in_file", "执法证号 HN-0431-0002 在文件中重复，第 3 行已出现"),
        (9, "duplicate_in_file", "执法证号 HN-0431-0005 在文件中重复，第 6 行已出现"),
    ]
    # The first chunks were written, then rolled back with the rest.
    assert _count(session_factory, Inspector) == 0
    assert _count(session_factory, ChangeRecord) == 0
    assert _count(session_factory, ImportBatch) == 0


def test_inspection_records_longer_than_a_chunk(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    codes = [create_enterprise(client, uscc=uscc(serial=n))["uscc"] for n in (1, 2)]
    visits = [
        f"{code},2025-06-{day:02d},县级检查,衡南县应急管理局,"
        for code in codes
        for day in (1, 2, 3)
    ]
    first = _upload(client, _file(VISIT_HEADER, visits[:2]), name="检查.csv", target="inspections")
    assert first.status_code == 200, first.text
    answer = _upload(client, _file(VISIT_HEADER, visits), name="检查.csv", target="inspections")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["rows"], body["created"], body["unchanged"]) == (6, 4, 2)
    assert [c["row"] for c in body["changes"]] == [4, 5, 6, 7]
    assert _count(session_factory, Inspection) == 6
    # A repeated visit and an unknown enterprise, each in a later chunk than its cause.
    broken = [*visits, f"{uscc(serial=99)},2025-06-09,县级检查,衡南县应急管理局,", visits[4]]
    rejected = _upload(client, _file(VISIT_HEADER, broken), name="检查.csv", target="inspections")
    assert rejected.status_code == 422
    assert [(e["row"], e["code"]) for e in rejected.json()["errors"]] == [
        (8, "unknown_enterprise"),
        (9, "duplicate_in_file"),
    ]
    assert "第 6 行已出现" in rejected.json()["errors"][1]["message"]
    assert _count(session_factory, Inspection) == 6
