"""Imports that would cost the server more than a file is worth: zip bombs, cells
of megabytes, files of a million problems. Each is refused with a clear answer
and nothing is written; the command line never echoes a whole cell."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from tests.test_import import HEADER, _count, _csv, _row, _upload


def _xlsx(rows: int = 1) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    for serial in range(1, rows + 1):
        sheet.append(_row(serial))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _with_member(xlsx: bytes, name: str, chunks: Iterator[bytes]) -> bytes:
    """The workbook with one member replaced by the streamed `chunks`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as source, zipfile.ZipFile(out, "w") as target:
        for member in source.infolist():
            if member.filename != name:
                target.writestr(member, source.read(member), zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(name)
        info.compress_type = zipfile.ZIP_DEFLATED
        with target.open(info, "w", force_zip64=True) as stream:
            for chunk in chunks:
                stream.write(chunk)
    return out.getvalue()


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Settings read from the environment, as the importer reads them."""
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_a_zip_bomb_is_refused_before_it_is_parsed(client: TestClient) -> None:
    def inflating() -> Iterator[bytes]:
        yield b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'
        for _ in range(256):
            yield b"a" * (1024 * 1024)  # one shared string of 256 MiB
        yield b"</t></si></sst>"

    bomb = _with_member(_xlsx(), "xl/sharedStrings.xml", inflating())
    assert len(bomb) < 2 * 1024 * 1024
    response = _upload(client, bomb, name="名录.xlsx")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "import_unreadable"
    assert problem["errors"][0]["code"] == "archive_ratio"
    assert "压缩比" in problem["detail"] and "xl/sharedStrings.xml" in problem["detail"]
    assert _count(client) == 0


def test_an_archive_over_the_size_limits_is_413(
    client: TestClient, limits: pytest.MonkeyPatch
) -> None:
    book = _xlsx(rows=300)
    limits.setenv("SHUANGSUI_XLSX_MAX_INFLATED_BYTES", "20000")
    response = _upload(client, book, name="名录.xlsx")
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "archive_too_large"
    limits.setenv("SHUANGSUI_XLSX_MAX_INFLATED_BYTES", str(10**9))
    limits.setenv("SHUANGSUI_XLSX_MAX_MEMBER_BYTES", "5000")
    get_settings.cache_clear()
    response = _upload(client, book, name="名录.xlsx")
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "archive_member_too_large"
    assert _count(client) == 0
    limits.delenv("SHUANGSUI_XLSX_MAX_MEMBER_BYTES")
    get_settings.cache_clear()
    assert _upload(client, book, name="名录.xlsx").status_code == 200
    assert _count(client) == 300


def _understated(xlsx: bytes, name: str, declared: int) -> bytes:
    """The archive with `name`'s uncompressed size understated in both of its headers."""
    data = bytearray(xlsx)
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        member = archive.getinfo(name)
    struct.pack_into("<I", data, member.header_offset + 22, declared)  # local header
    end = data.rindex(b"PK\x05\x06")  # end of central directory: where the directory starts
    central = struct.unpack_from("<I", data, end + 16)[0]
    while True:
        length = struct.unpack_from("<H", data, central + 28)[0]
        extra, comment = struct.unpack_from("<HH", data, central + 30)
        if data[central + 46 : central + 46 + length] == name.encode():
            struct.pack_into("<I", data, central + 24, declared)
            return bytes(data)
        central += 46 + length + extra + comment


def test_a_directory_that_understates_a_member_is_refused(client: TestClient) -> None:
    lying = _understated(_xlsx(rows=50), "xl/worksheets/sheet1.xml", 100)
    response = _upload(client, lying, name="名录.xlsx")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["code"] == "archive_corrupt"
    assert _count(client) == 0


def test_a_huge_cell_is_a_row_problem_shown_clipped(client: TestClient) -> None:
    rows = [_row(1), _row(2, 企业名称="企" * 100_000), _row(3)]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert (error["row"], error["code"]) == (3, "cell_too_long")
    assert "100000 个字符" in error["message"]
    assert len(error["value"]) <= 201
    assert _count(client) == 0


def test_the_problem_list_is_capped_and_counted(client: TestClient) -> None:
    rows = [_row(n, 风险等级="Z") for n in range(1, 1501)]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) == 1000 and problem["errors_total"] == 1500
    assert "1500 处问题（列出前 1000 处）" in problem["detail"]
    assert _count(client) == 0


def test_the_cli_never_echoes_a_whole_cell(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        rows = [_row(n, 地址="址" * 1900) for n in range(1, 61)]
        rows += [_row(61, 企业名称="名" * 50_000)]
        source = tmp_path / "名录.csv"
        source.write_bytes(_csv(rows))
        result = CliRunner().invoke(cli, ["import", "enterprises", str(source), "--dry-run"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "共 61 处" in result.output
    assert "址" * 81 not in result.output and "名" * 81 not in result.output
    assert len(result.output) < 20_000
