"""Bulk import: every malformed case is rejected with its row and column, and
nothing is written; a clean file is upserted whole."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.history import ChangeRecord
from app.pools import import_pipeline
from app.pools.models import EnterpriseTag, ImportBatch
from tests.factories import create_enterprise, uscc

HEADER = [
    "统一社会信用代码",
    "企业名称",
    "县市区",
    "企业类别",
    "风险等级",
    "重点监管",
    "标签",
    "地址",
]


def _row(serial: int, **overrides: str) -> list[str]:
    values = {
        "统一社会信用代码": uscc(serial=serial),
        "企业名称": f"示例企业{serial}号有限公司",
        "县市区": "衡南县",
        "企业类别": "加油站",
        "风险等级": "B",
        "重点监管": "否",
        "标签": "重大危险源",
        "地址": f"衡南县示例路{serial}号",
    } | overrides
    return [values[h] for h in HEADER]


def _csv(rows: list[list[str]], encoding: str = "utf-8", header: list[str] = HEADER) -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _upload(
    client: TestClient,
    data: bytes,
    name: str = "名录.csv",
    target: str = "enterprises",
    **params: Any,
) -> Any:
    return client.post(f"/api/v1/{target}/import", files={"file": (name, data)}, params=params)


def _count(client: TestClient) -> int:
    return int(client.get("/api/v1/enterprises?include_retired=true").json()["total"])


def test_clean_csv_in_every_encoding(client: TestClient) -> None:
    for n, encoding in enumerate(("utf-8", "utf-8-sig", "gb18030", "gbk")):
        data = _csv([_row(10 * n + 1), _row(10 * n + 2)], encoding=encoding)
        response = _upload(client, data, name=f"名录-{encoding}.csv")
        assert response.status_code == 200, response.text
        assert response.json()["created"] == 2
    assert _count(client) == 8
    listed = client.get("/api/v1/enterprises?q=示例企业31号").json()["items"]
    assert listed[0]["county_name"] == "衡南县"
    assert listed[0]["tags"] == ["major_hazard"]


def test_every_problem_is_listed_with_row_and_column_and_nothing_is_written(
    client: TestClient,
) -> None:
    good = uscc(serial=5)
    bad_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows = [
        _row(1),
        _row(2, 统一社会信用代码=bad_check),
        _row(3, 县市区="长沙县"),
        _row(4, 统一社会信用代码="9.14304E+17"),
        _row(1, 企业名称="重复的企业"),
        _row(6, 企业类别="火箭工厂"),
    ]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "import_rejected"
    assert problem["title"] == "导入文件有误，未写入任何数据"
    found = {(e["row"], e["column"], e["code"]) for e in problem["errors"]}
    # the header is row 1, so data rows start at 2
    assert (3, "A（统一社会信用代码）", "value_error") in found
    assert (4, "C（县市区）", "value_error") in found
    assert (5, "A（统一社会信用代码）", "excel_number") in found
    assert (6, "A（统一社会信用代码）", "duplicate_in_file") in found
    assert (7, "D（企业类别）", "value_error") in found
    by_row = {e["row"]: e for e in problem["errors"]}
    assert "校验位" in by_row[3]["message"]
    assert by_row[3]["value"] == bad_check
    assert "长沙县" in by_row[4]["message"]
    assert "第 2 行" in by_row[6]["message"]
    assert _count(client) == 0


def test_a_repeated_code_names_the_row_it_first_came_in(client: TestClient) -> None:
    """The duplicate check keeps only the codes; the rows they first came in are
    still named, each repeat after its own first row, and a code's third
    appearance after its first, not its second."""
    rows = [_row(1), _row(2), _row(1), _row(3), _row(2), _row(1, 企业名称="第三次出现有限公司")]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    repeats = [(e["row"], e["message"]) for e in response.json()["errors"]]
    assert repeats == [
        (4, f"统一社会信用代码 {uscc(serial=1)} 在文件中重复，第 2 行已出现"),
        (6, f"统一社会信用代码 {uscc(serial=2)} 在文件中重复，第 3 行已出现"),
        (7, f"统一社会信用代码 {uscc(serial=1)} 在文件中重复，第 2 行已出现"),
    ]
    assert _count(client) == 0


def test_missing_required_column(client: TestClient) -> None:
    header = [h for h in HEADER if h != "县市区"]
    rows = [[v for h, v in zip(HEADER, _row(1), strict=True) if h != "县市区"]]
    response = _upload(client, _csv(rows, header=header))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["code"] == "missing_column"
    assert error["row"] == 1
    assert "县市区" in error["message"]


def test_excel_number_in_an_xlsx_code_cell(client: TestClient) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append(_row(1))
    numeric = _row(2)
    sheet.append([914304220000000000, *numeric[1:]])  # a code typed into a number cell
    sheet.append([])  # a blank row is skipped but still counts in Excel's numbering
    sheet.append(_row(3))
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(client, buffer.getvalue(), name="名录.xlsx")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["row"], error["code"]) == (3, "excel_number")
    assert "文本" in error["message"]
    assert _count(client) == 0
    sheet.delete_rows(3)
    buffer = io.BytesIO()
    book.save(buffer)
    ok = _upload(client, buffer.getvalue(), name="名录.xlsx")
    assert ok.status_code == 200, ok.text
    assert ok.json()["created"] == 2


def test_upsert_dry_run_then_real(client: TestClient) -> None:
    existing = create_enterprise(client, uscc=uscc(serial=1), risk_grade="A")
    rows = [_row(1, 风险等级="D"), _row(2)]
    dry = _upload(client, _csv(rows), dry_run="true")
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert (report["created"], report["updated"], report["unchanged"]) == (1, 1, 0)
    assert report["import_id"] is None
    update, create = report["changes"]
    assert (update["row"], update["key"], update["action"]) == (2, uscc(serial=1), "update")
    assert [f["field"] for f in update["fields"]] == ["address", "name", "risk_grade"]
    assert {"field": "risk_grade", "column": "E（风险等级）", "old": "A", "new": "D"} in update[
        "fields"
    ]
    assert (create["row"], create["key"], create["action"]) == (3, uscc(serial=2), "create")
    assert {"field": "county", "column": "C（县市区）", "old": None, "new": "430422"} in create[
        "fields"
    ]
    assert _count(client) == 1
    assert client.get(f"/api/v1/enterprises/{existing['id']}").json()["risk_grade"] == "A"

    real = _upload(client, _csv(rows))
    assert real.json()["import_id"] is not None
    assert _count(client) == 2
    updated = client.get(f"/api/v1/enterprises/{existing['id']}").json()
    assert updated["risk_grade"] == "D"
    history = client.get(f"/api/v1/enterprises/{existing['id']}/history").json()["items"]
    assert history[-1]["action"] == "update"
    assert history[-1]["import_id"] == real.json()["import_id"]

    again = _upload(client, _csv(rows)).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_blank_cells_keep_stored_values(client: TestClient) -> None:
    existing = create_enterprise(client, uscc=uscc(serial=1), risk_grade="C")
    response = _upload(client, _csv([_row(1, 风险等级="", 标签="")]))
    assert response.status_code == 200, response.text
    kept = client.get(f"/api/v1/enterprises/{existing['id']}").json()
    assert kept["risk_grade"] == "C"
    assert kept["tags"] == ["major_hazard"]


def test_retired_enterprise_is_not_silently_revived(client: TestClient) -> None:
    existing = create_enterprise(client, uscc=uscc(serial=1))
    client.post(f"/api/v1/enterprises/{existing['id']}/retire", json={"reason": "已注销登记"})
    response = _upload(client, _csv([_row(1)]))
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "enterprise_retired"


def test_unreadable_and_empty_files(client: TestClient) -> None:
    assert _upload(client, b"").status_code == 422
    garbage = _upload(client, bytes(range(128, 256)) * 4)
    assert garbage.status_code == 422
    assert garbage.json()["code"].startswith("import")


def test_template_has_the_headers_as_text_columns(client: TestClient) -> None:
    response = client.get("/api/v1/enterprises/import/template.xlsx")
    assert response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    headers = [c.value for c in sheet[1]]
    assert headers[:3] == ["统一社会信用代码", "企业名称", "县市区"]
    assert sheet["A2"].number_format == "@"


def test_export_round_trips_and_neutralises_formulas(client: TestClient) -> None:
    create_enterprise(client, uscc=uscc(serial=1), name='=HYPERLINK("http://x")公司')
    create_enterprise(client, uscc=uscc(serial=2), name="正常企业有限公司")
    csv_export = client.get("/api/v1/enterprises/export?format=csv")
    assert csv_export.status_code == 200
    assert csv_export.content.startswith(b"\xef\xbb\xbf")
    text = csv_export.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    xlsx_export = client.get("/api/v1/enterprises/export?format=xlsx")
    book = openpyxl.load_workbook(io.BytesIO(xlsx_export.content))
    sheet = book.worksheets[0]
    names = [row[1].value for row in sheet.iter_rows(min_row=2)]
    # stored as a string cell, never as a formula
    assert names == ['=HYPERLINK("http://x")公司', "正常企业有限公司"]
    assert all(row[1].data_type == "s" for row in sheet.iter_rows(min_row=2))
    # the export is a valid import of the same data: nothing changes
    reimport = _upload(client, xlsx_export.content, name="导出.xlsx")
    assert reimport.status_code == 200, reimport.text
    assert (reimport.json()["created"], reimport.json()["unchanged"]) == (0, 2)


def test_inspectors_and_inspections_import(client: TestClient) -> None:
    enterprise = create_enterprise(client, uscc=uscc(serial=1))
    inspectors = (
        "姓名,执法证号,执法证有效期起,执法证有效期止,所属单位,县市区,专业领域,在岗,联系电话\r\n"
        "张明,HN-0431-0001,2024/1/1,2028-12-31,执法支队,石鼓区,危险化学品、烟花爆竹,是,13800000001\r\n"
        "李华,HN-0431-0002,2024-01-01,2028-12-31,危化烟花科,,危险化学品,是,13800000002\r\n"
    ).encode("gb18030")
    response = _upload(client, inspectors, name="人员.csv", target="inspectors")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2
    listed = client.get("/api/v1/inspectors?unit=执法支队").json()["items"]
    assert listed[0]["specialties"] == ["fireworks", "hazchem"]
    assert listed[0]["cert_valid_from"] == "2024-01-01"

    history = (
        "统一社会信用代码,检查日期,检查类型,检查单位,备注\r\n"
        f"{enterprise['uscc']},2025-06-18,县级检查,衡南县应急管理局,\r\n"
        f"{uscc(serial=99)},2025-06-19,县级检查,衡南县应急管理局,\r\n"
    ).encode()
    rejected = _upload(client, history, name="检查.csv", target="inspections")
    assert rejected.status_code == 422
    assert rejected.json()["errors"][0]["code"] == "unknown_enterprise"
    assert rejected.json()["errors"][0]["row"] == 3
    ok = _upload(
        client, history.rsplit(b"\r\n", 2)[0] + b"\r\n", name="检查.csv", target="inspections"
    )
    assert ok.status_code == 200, ok.text
    assert client.get("/api/v1/inspections").json()["total"] == 1


# -- files longer than a chunk: validated and written a chunk at a time ----------


def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(import_pipeline, "CHUNK_ROWS", 2)


def _stored(client: TestClient, code: str) -> dict[str, Any]:
    (found,) = client.get(f"/api/v1/enterprises?q={code}").json()["items"]
    return dict(found)


def test_a_problem_at_the_end_of_a_long_file_leaves_nothing_written(
    client: TestClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    rows = [_row(n) for n in range(1, 8)] + [_row(8, 县市区="长沙县")]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(9, "C（县市区）")]
    assert _count(client) == 0
    with session_factory() as session:
        # the rows of the first chunks were written, then rolled back with the rest
        assert session.scalar(select(func.count()).select_from(ChangeRecord)) == 0
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0
        assert session.scalar(select(func.count()).select_from(EnterpriseTag)) == 0


def test_a_file_broken_part_way_is_refused_whole(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    rows = [_row(n) for n in range(1, 5001)]  # past the CSV reader's 128 KiB cell limit
    rows[5][-1] = '"衡南县示例路'  # a quote never closed: the rest of the file is one cell
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "import_unreadable"
    assert "第 7 行" in problem["detail"]
    assert _count(client) == 0


def test_a_nul_character_in_a_cell_is_a_problem_of_its_row(client: TestClient) -> None:
    rows = [_row(1), _row(2, 企业名称="示例\x00企业有限公司")]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["row"], error["column"], error["code"]) == (
        3,
        "B（企业名称）",
        "control_character",
    )
    assert _count(client) == 0


def test_rows_written_in_bulk_read_back_as_records_made_one_by_one(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    _small_chunks(monkeypatch)
    one_by_one = create_enterprise(
        client,
        uscc=uscc(serial=100),
        name="逐条录入的企业有限公司",
        county="430422",
        subtype="gas_station",
        risk_grade="B",
        tags=["major_hazard"],
        address="衡南县示例路100号",
    )
    existing = create_enterprise(client, uscc=uscc(serial=3), risk_grade="A")
    rows = [_row(n) for n in range(1, 6)]  # row of serial 3 updates the existing record
    response = _upload(client, _csv(rows))
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["created"], report["updated"]) == (5, 4, 1)
    assert _count(client) == 6

    imported = _stored(client, uscc(serial=1))
    expected = {k: v for k, v in one_by_one.items() if k not in ("id", "uscc", "name", "address")}
    expected |= {"created_at": imported["created_at"], "updated_at": imported["updated_at"]}
    assert {k: v for k, v in imported.items() if k in expected} == expected
    assert datetime.fromisoformat(imported["created_at"]).utcoffset() == timedelta(0)

    (made,) = client.get(f"/api/v1/enterprises/{one_by_one['id']}/history").json()["items"]
    (loaded,) = client.get(f"/api/v1/enterprises/{imported['id']}/history").json()["items"]
    assert loaded["action"] == made["action"] == "create"
    assert loaded["import_id"] == report["import_id"]
    assert loaded["before"] is None and made["before"] is None
    differing = {"uscc", "name", "address"}
    assert {k: v for k, v in loaded["after"].items() if k not in differing} == {
        k: v for k, v in made["after"].items() if k not in differing
    }
    assert loaded["after"]["uscc"] == uscc(serial=1)
    updated = client.get(f"/api/v1/enterprises/{existing['id']}").json()
    assert updated["risk_grade"] == "B"

    # the ids a bulk insert took do not collide with those given later, one by one or in bulk
    later = create_enterprise(client, uscc=uscc(serial=200))
    again = _upload(client, _csv([_row(n) for n in range(6, 9)]))
    assert again.status_code == 200, again.text
    ids = [e["id"] for e in client.get("/api/v1/enterprises?page_size=100").json()["items"]]
    assert len(ids) == len(set(ids)) == 10
    assert later["id"] not in {_stored(client, uscc(serial=n))["id"] for n in (6, 7, 8)}


def test_an_xlsx_whose_table_starts_further_right_keeps_excel_column_letters(
    client: TestClient,
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for r, values in enumerate([HEADER, _row(1), _row(2, 县市区="长沙县")], start=3):
        for c, value in enumerate(values, start=3):  # the table starts at C3
            sheet.cell(row=r, column=c, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    response = _upload(client, buffer.getvalue(), name="名录.xlsx")
    assert response.status_code == 422
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(5, "E（县市区）")]


def test_an_inspectors_new_unit_and_county_are_named_as_the_api_and_history_name_them(
    client: TestClient,
) -> None:
    """A re-imported inspector who moved: the dry run names the changed fields
    "unit" and "county" at their columns, and history keeps "unit" and
    "county_code", as records written before the move do."""
    header = (
        "姓名,执法证号,执法证有效期起,执法证有效期止,所属单位,县市区,专业领域,在岗,联系电话\r\n"
    )
    before = header + "张明,HN-0431-0001,2024-01-01,2028-12-31,执法支队,石鼓区,危险化学品,是,\r\n"
    after = (
        header
        + "张明,HN-0431-0001,2024-01-01,2028-12-31,衡南县应急管理局,衡南县,危险化学品,是,\r\n"
    )
    assert _upload(client, before.encode(), name="人员.csv", target="inspectors").status_code == 200
    dry = _upload(client, after.encode(), name="人员.csv", target="inspectors", dry_run="true")
    assert dry.status_code == 200, dry.text
    (change,) = dry.json()["changes"]
    assert change["fields"] == [
        {"field": "county", "column": "F（县市区）", "old": "430407", "new": "430422"},
        {"field": "unit", "column": "E（所属单位）", "old": "执法支队", "new": "衡南县应急管理局"},
    ]
    real = _upload(client, after.encode(), name="人员.csv", target="inspectors")
    assert real.json()["updated"] == 1, real.text
    (listed,) = client.get("/api/v1/inspectors?unit=衡南县应急管理局&county=衡南县").json()["items"]
    assert (listed["unit"], listed["county"]) == ("衡南县应急管理局", "430422")
    history = client.get(f"/api/v1/inspectors/{listed['id']}/history").json()["items"]
    assert history[-1]["action"] == "update"
    assert (history[-1]["before"]["unit"], history[-1]["after"]["unit"]) == (
        "执法支队",
        "衡南县应急管理局",
    )
    assert history[-1]["after"]["county_code"] == "430422"
    assert "organisation" not in history[-1]["after"]


def test_a_blank_required_cell_is_named_at_its_column(client: TestClient) -> None:
    """A blank 所属单位 (the field `unit` in the API) is a problem of its row and column,
    like any other missing value."""
    inspectors = (
        "姓名,执法证号,执法证有效期起,执法证有效期止,所属单位,县市区,专业领域,在岗,联系电话\r\n"
        "张明,HN-0431-0001,2024-01-01,2028-12-31,,石鼓区,危险化学品,是,\r\n"
    ).encode()
    response = _upload(client, inspectors, name="人员.csv", target="inspectors")
    assert response.status_code == 422, response.text
    problems = [(e["row"], e["column"]) for e in response.json()["errors"]]
    assert problems == [(2, "E（所属单位）")]
    assert client.get("/api/v1/inspectors").json()["total"] == 0
