"""The official notice: PDF, XLSX and CSV, as a citizen or a clerk opens them."""

from __future__ import annotations

import base64
import csv
import io
import re
import shutil
import subprocess
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import openpyxl
import pypdf
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo_load import load_demo_pool
from tests.conftest import IN_CI
from tests.factories import ApiClient, dice_draw


def _demo_draw(client: ApiClient, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post("/api/v1/plans/from-template/2024-hazchem").json()
    return dice_draw(client, plan["id"], "38274619283746529183")


def _filenames(disposition: str) -> tuple[str, str]:
    """The ASCII filename and the UTF-8 filename* of a Content-Disposition (RFC 6266)."""
    message = Message()
    message["content-disposition"] = disposition
    ascii_name = message.get_param("filename", header="content-disposition")
    extended = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    assert isinstance(ascii_name, str) and extended
    return ascii_name, unquote(extended.group(1))


def _pages(pdf: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", "", page.extract_text()) for page in reader.pages]


def test_the_pdf_notice_is_an_official_document_one_can_check(
    client: ApiClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    done = _demo_draw(client, session_factory)
    public_id = done["public_id"]
    response = client.get(f"/draws/{public_id}.pdf")
    assert response.headers["content-type"] == "application/pdf"
    ascii_name, name = _filenames(response.headers["content-disposition"])
    assert ascii_name == f"{public_id}.pdf"
    assert name.startswith(public_id) and name.endswith("公示.pdf") and "危险化学品" in name

    pages = _pages(response.content)
    text = "".join(pages)
    assert "衡阳市应急管理局" in text  # the issuing authority, the demo's setting
    assert "（盖章）" in text
    checkpoint = client.get("/api/v1/log/checkpoint").text.splitlines()
    size, root_b64 = int(checkpoint[1]), checkpoint[2]
    key = client.get("/api/v1/log/key").text.strip()
    assert f"检查点大小{size}条" in text
    assert base64.b64decode(root_b64).hex() in text
    assert root_b64 in text.replace("\n", "")  # as the checkpoint spells it
    assert checkpoint[0] in text  # the origin
    assert f"/api/v1/draws/{public_id}/proof.tlog-proof" in text.replace("\n", "")
    assert key.split("+")[1] in text  # the key id
    seeded = client.get(f"/api/v1/draws/{public_id}").json()["seeded_at"]
    year, month, day = (int(x) for x in seeded[:10].split("-"))
    assert re.search(rf"{year}年{month}月\d+日", text)  # the issue date, in Beijing
    assert "逾期未公开" in text and "将于" not in text  # 2024: long past, said in the past tense

    # every stratum's heading shares its page with the first enterprise of its table
    spec = client.get(f"/api/v1/plans/{done['plan_id']}").json()["spec"]
    labels = {s["id"]: re.sub(r"\s+", "", s["label"]) for s in spec["strata"]}
    for stratum in done["result"]["strata"]:
        if not stratum["selected"]:
            continue
        label = labels[stratum["id"]]
        first = stratum["selected"][0]["key"]
        assert any(label in page and first in page for page in pages), label

    # the QR code, read off the rendered page, leads to the draw's page
    if not shutil.which("pdftoppm"):
        if IN_CI:
            pytest.fail("poppler-utils is missing: CI must render the notice")
        pytest.skip("pdftoppm (poppler-utils) is not installed here")
    pdf_path = tmp_path / "notice.pdf"
    pdf_path.write_bytes(response.content)
    subprocess.run(["pdftoppm", "-r", "120", "-png", pdf_path, tmp_path / "page"], check=True)
    found = [
        barcode.text
        for image in sorted(tmp_path.glob("page*.png"))
        for barcode in zxingcpp.read_barcodes(Image.open(image))
    ]
    assert found == [f"http://testserver/draws/{public_id}"]


def test_the_spreadsheets_keep_codes_as_text_and_size_their_columns(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    done = _demo_draw(client, session_factory)
    public_id = done["public_id"]
    drawn = {u["key"] for s in done["result"]["strata"] for u in s["selected"]}

    xlsx = client.get(f"/draws/{public_id}.xlsx")
    assert _filenames(xlsx.headers["content-disposition"])[0] == f"{public_id}.xlsx"
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    code_col = header.index("统一社会信用代码") + 1
    codes = {sheet.cell(r, code_col).value for r in range(2, sheet.max_row + 1)}
    assert drawn <= codes
    for col, title in enumerate(header, start=1):
        letter = openpyxl.utils.get_column_letter(col)
        width = sheet.column_dimensions[letter].width
        longest = max(len(str(sheet.cell(r, col).value or "")) for r in range(1, sheet.max_row + 1))
        # wide enough for its longest cell (CJK characters are two columns), up to a limit
        assert width >= min(60, longest + 2), (title, width, longest)
    assert sheet.cell(2, code_col).number_format == "@"

    body = client.get(f"/draws/{public_id}.csv")
    assert _filenames(body.headers["content-disposition"])[0] == f"{public_id}.csv"
    rows = list(csv.reader(io.StringIO(body.content.decode("utf-8-sig"))))
    at = rows[0].index("统一社会信用代码")
    # ="…": what Excel opens as the text, never 9.14E+17
    assert {row[at] for row in rows[1:]} == {f'="{code}"' for code in drawn} | set()
    page = client.get(f"/draws/{public_id}").text
    assert page.index(f"/draws/{public_id}.xlsx") < page.index(f"/draws/{public_id}.csv")


def test_the_bundle_downloads_with_a_filename(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    done = _demo_draw(client, session_factory)
    public_id = done["public_id"]
    response = client.get(f"/draws/{public_id}/bundle.json")
    assert response.status_code == 200
    assert _filenames(response.headers["content-disposition"]) == (
        f"{public_id}.json",
        f"{public_id} 验证包.json",
    )
    assert response.json()["draw"] == public_id
    assert f'href="/draws/{public_id}/bundle.json"' in client.get(f"/draws/{public_id}").text
