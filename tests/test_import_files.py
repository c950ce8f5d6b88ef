"""Import files as bureaus really exchange them: titles above the header, GBK
CSV, full-width codes, 衡阳市 prefixes, 是/√, the clear marker, and the
templates exactly as the service hands them out."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
import xlsxwriter
from fastapi.testclient import TestClient

from tests.factories import create_enterprise, uscc
from tests.test_import import HEADER, _row, _upload

TITLE = "衡阳市危险化学品企业名录（2024年）"


def _workbook_with_title(rows: list[list[str]]) -> bytes:
    """A sheet as a bureau sends it: a merged title, a blank row, a note, then the header."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([TITLE])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append([])
    sheet.append(["填报单位：衡南县应急管理局", "", "", "", "填报日期：2024年3月1日"])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _enterprise(client: TestClient, code: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/enterprises/by-uscc/{code}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_workbook_with_a_merged_title_above_the_header_imports(client: TestClient) -> None:
    data = _workbook_with_title([_row(1), _row(2)])
    response = _upload(client, data, name="名录.xlsx")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["header_row"], report["created"]) == (4, 2)
    assert any("第 4 行" in w for w in report["warnings"])
    assert [c["row"] for c in report["changes"]] == [5, 6]
    assert _enterprise(client, uscc(serial=2))["name"] == "示例企业2号有限公司"


def test_rows_under_a_title_are_numbered_as_excel_shows_them(client: TestClient) -> None:
    data = _workbook_with_title([_row(1), _row(2, 县市区="长沙县")])
    response = _upload(client, data, name="名录.xlsx")
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["row"], error["column"]) == (6, "C（县市区）")


def test_an_xlsxwriter_workbook_with_two_title_rows_imports(client: TestClient) -> None:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("名录")
    sheet.merge_range(0, 0, 0, len(HEADER) - 1, TITLE)
    sheet.merge_range(1, 0, 1, 3, "（截至2024年12月31日）")
    for col, header in enumerate(HEADER):
        sheet.write_string(2, col, header)
    for col, value in enumerate(_row(7)):
        sheet.write_string(3, col, value)
    book.close()
    response = _upload(client, buffer.getvalue(), name="名录.xlsx")
    assert response.status_code == 200, response.text
    assert (response.json()["header_row"], response.json()["created"]) == (3, 1)


def test_a_gbk_csv_with_a_title_line_imports(client: TestClient) -> None:
    lines = [TITLE, ",".join(HEADER), ",".join(_row(1)), ",".join(_row(2))]
    data = ("\r\n".join(lines) + "\r\n").encode("gbk")
    data.decode("gbk")  # real GBK bytes, not UTF-8
    assert not data.startswith(b"\xef\xbb\xbf")
    response = _upload(client, data, name="名录.csv")
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["header_row"], report["created"]) == (2, 2)
    assert _enterprise(client, uscc(serial=1))["county_name"] == "衡南县"


def test_a_file_without_the_header_still_names_the_missing_columns(client: TestClient) -> None:
    lines = [TITLE, "统一社会信用代码,企业名称", f"{uscc(serial=1)},某某公司"]
    response = _upload(client, "\n".join(lines).encode("gbk"), name="名录.csv")
    assert response.status_code == 422
    missing = {e["message"] for e in response.json()["errors"] if e["code"] == "missing_column"}
    assert any("县市区" in m for m in missing)
    assert any("企业类别" in m for m in missing)


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_clerks_spellings_are_normalised_and_each_is_warned_of(client: TestClient) -> None:
    code = uscc(serial=3)
    row = _row(
        3,
        统一社会信用代码=_full_width(code),
        县市区="衡阳市常宁市",
        企业类别="危险化学品经营企业(带储存)",
        重点监管="√",
        企业名称="  常宁市示例化工有限公司 ",
    )
    other = _row(4, 县市区="湖南省衡阳市松木经济开发区", 重点监管="Y")
    dry = _upload(client, _csv_bytes([row, other]), dry_run="true")
    assert dry.status_code == 200, dry.text
    report = dry.json()
    first, second = report["changes"]
    assert first["key"] == code
    assert any("全角" in w and code in w for w in first["warnings"])
    assert any("衡阳市" in w and "常宁市" in w for w in first["warnings"])
    assert any("（带储存）" in w for w in first["warnings"])
    assert any("“√”读作“是”" in w for w in first["warnings"])
    assert any("首尾空格" in w for w in first["warnings"])
    assert any("“Y”读作“是”" in w for w in second["warnings"])
    joined = "\n".join(report["warnings"])
    assert "A（统一社会信用代码）：全角字符改为半角，共 1 行（第 2 行）" in joined
    assert "C（县市区）：去掉了“衡阳市”等前缀，共 2 行（第 2、3 行）" in joined

    assert _upload(client, _csv_bytes([row, other])).status_code == 200
    stored = _enterprise(client, code)
    assert stored["county"] == "430482"
    assert stored["subtype"] == "hazchem_storage"
    assert stored["key_supervision"] is True
    assert stored["name"] == "常宁市示例化工有限公司"
    assert _enterprise(client, uscc(serial=4))["county"] == "430473"


def test_every_countys_full_name_is_accepted(client: TestClient) -> None:
    counties = client.get("/api/v1/reference").json()["counties"]
    rows = []
    for n, county in enumerate(counties, start=10):
        rows.append(_row(n, 县市区=f"衡阳市{county['name']}"))
        rows.append(_row(n + 100, 县市区=county["full_name"]))
    response = _upload(client, _csv_bytes(rows), dry_run="true")
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 2 * len(counties)


def test_the_api_accepts_the_same_spellings(client: TestClient) -> None:
    created = create_enterprise(
        client,
        uscc=_full_width(uscc(serial=8)),
        county="衡阳市常宁市",
        subtype="危险化学品经营企业(带储存)",
        risk_grade="Ｃ",
    )
    assert (created["uscc"], created["county"]) == (uscc(serial=8), "430482")
    assert (created["subtype"], created["risk_grade"]) == ("hazchem_storage", "C")


def _csv_bytes(rows: list[list[str]]) -> bytes:
    lines = [",".join(HEADER)] + [",".join(r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def test_the_clear_marker_empties_a_value_and_a_blank_keeps_it(client: TestClient) -> None:
    existing = create_enterprise(client, uscc=uscc(serial=1), risk_grade="C")
    assert existing["tags"] == ["major_hazard"]
    rows = [_row(1, 风险等级="（清空）", 标签="(清空)", 地址="")]
    dry = _upload(client, _csv_bytes(rows), dry_run="true").json()
    (change,) = dry["changes"]
    by_field = {f["field"]: f for f in change["fields"]}
    assert (by_field["risk_grade"]["old"], by_field["risk_grade"]["new"]) == ("C", None)
    assert (by_field["tags"]["old"], by_field["tags"]["new"]) == (["major_hazard"], [])
    assert "address" not in by_field  # a blank cell keeps the stored address

    assert _upload(client, _csv_bytes(rows)).status_code == 200
    stored = client.get(f"/api/v1/enterprises/{existing['id']}").json()
    assert (stored["risk_grade"], stored["tags"]) == (None, [])
    assert stored["address"] == existing["address"]
    history = client.get(f"/api/v1/enterprises/{existing['id']}/history").json()["items"]
    assert history[-1]["before"]["risk_grade"] == "C"
    assert history[-1]["after"]["risk_grade"] is None


def test_a_required_value_cannot_be_cleared(client: TestClient) -> None:
    create_enterprise(client, uscc=uscc(serial=1))
    response = _upload(client, _csv_bytes([_row(1, 企业名称="（清空）")]))
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert (error["code"], error["column"], error["row"]) == ("not_clearable", "B（企业名称）", 2)
    assert "必填" in error["message"]


def test_a_dry_run_lists_rows_in_file_order(client: TestClient) -> None:
    for serial in (2, 4):
        create_enterprise(client, uscc=uscc(serial=serial), risk_grade="A")
    rows = [_row(n, 风险等级="D") for n in (1, 2, 3, 4, 5)]
    report = _upload(client, _csv_bytes(rows), dry_run="true").json()
    assert [(c["row"], c["action"]) for c in report["changes"]] == [
        (2, "create"),
        (3, "update"),
        (4, "create"),
        (5, "update"),
        (6, "create"),
    ]


def test_each_template_imports_exactly_as_downloaded(client: TestClient) -> None:
    for target in ("enterprises", "inspectors", "inspections"):
        template = client.get(f"/api/v1/{target}/import/template.xlsx")
        assert template.status_code == 200
        name = f"{target}-模板.xlsx"
        dry = _upload(client, template.content, name=name, target=target, dry_run="true")
        assert dry.status_code == 200, dry.text
        assert (dry.json()["rows"], dry.json()["created"]) == (1, 1)
        real = _upload(client, template.content, name=name, target=target)
        assert real.status_code == 200, real.text
        assert real.json()["created"] == 1
    example = client.get("/api/v1/enterprises?q=示例加油站").json()["items"]
    assert [e["county_name"] for e in example] == ["衡南县"]
    inspections = client.get(f"/api/v1/enterprises/{example[0]['id']}/inspections").json()["items"]
    assert len(inspections) == 1
