"""An import with flat memory: the file is read from disk a piece at a time
(its size, emptiness, hash, encoding and rows), so the memory an import takes
grows with its rows' codes alone, never with the file's bytes; and reading in
pieces changes nothing a clerk sees."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.pools import file_text
from app.pools.code_set import CodeSet
from app.pools.models import Enterprise, ImportBatch
from tests.factories import uscc
from tests.test_import import _csv, _row, _upload

# The child imports a file through the command line, as an operator does, and
# reports its own peak resident memory (VmHWM: its own, not the test's).
_CHILD = """
import json, sys
from app.cli import cli
try:
    cli(["import", "enterprises", sys.argv[1]], standalone_mode=False)
finally:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(json.dumps({"peak_kb": int(line.split()[1])}))
"""
# An address near its 300-character limit: a row of the file weighs about a
# kilobyte, while the import keeps only its code (tens of bytes).
_LONG = "某" * 280


def _long_rows(first: int, count: int) -> list[list[str]]:
    return [
        _row(serial, 地址=f"衡南县示例路{serial}号{_LONG}")
        for serial in range(first, first + count)
    ]


def _import_in_child(db_url: str, path: Path, data_dir: Path) -> tuple[int, str]:
    env = os.environ | {"SHUANGSUI_DATABASE_URL": db_url, "SHUANGSUI_DATA_DIR": str(data_dir)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    return int(json.loads(last)["peak_kb"]) * 1024, done.stdout


def test_the_memory_of_an_import_does_not_grow_with_the_file(
    db_url: str, tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    small.write_bytes(_csv(_long_rows(1, 15_000)))
    large.write_bytes(_csv(_long_rows(100_001, 75_000)))
    small_peak, said = _import_in_child(db_url, small, tmp_path / "data")
    assert "15000 行；已新增 15000" in said
    large_peak, said = _import_in_child(db_url, large, tmp_path / "data")
    assert "75000 行；已新增 75000" in said
    with session_factory() as session:
        stored = session.scalar(select(func.count()).select_from(Enterprise))
    assert stored == 90_000
    file_growth = large.stat().st_size - small.stat().st_size
    assert file_growth > 50 * 1024 * 1024  # five times the rows: some 50 MB more to read
    # An import that held the file (or its decoded text, or a row object per
    # row) would grow by at least the file's growth.
    assert large_peak - small_peak < file_growth / 4, (small_peak, large_peak, file_growth)


@pytest.fixture
def tiny_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files read 7 bytes at a time: every check meets many piece boundaries,
    inside characters of two and three bytes too."""
    monkeypatch.setattr(file_text, "PIECE_BYTES", 7)


def _problem(answer: Any) -> tuple[int, str, str]:
    body = answer.json()
    return answer.status_code, body["code"], body["errors"][0]["code"]


def test_a_file_read_in_pieces_is_read_whole_and_hashed_whole(
    client: TestClient, session_factory: sessionmaker[Session], tiny_pieces: None
) -> None:
    # GB18030 and more than the text reader's buffer (64 KiB): its rows are
    # read while the file is hashed from its start, and neither loses a byte.
    rows = [
        _row(serial, 企业名称=f"衡南县示例企业第{serial}号有限公司") for serial in range(1, 2_001)
    ]
    data = _csv(rows, encoding="gb18030")
    assert len(data) > 3 * 65_536
    answer = _upload(client, data)
    assert answer.status_code == 200, answer.text
    assert answer.json()["created"] == 2_000
    with session_factory() as session:
        batch = session.scalars(select(ImportBatch)).one()
        names = set(session.scalars(select(Enterprise.name)))
    assert batch.sha256 == hashlib.sha256(data).hexdigest()
    assert "衡南县示例企业第2000号有限公司" in names and len(names) == 2_000


def test_a_bad_byte_far_into_a_file_is_still_found(client: TestClient, tiny_pieces: None) -> None:
    good = _csv([_row(serial) for serial in range(1, 300)])
    # A BOM promises UTF-8; a GBK character thousands of pieces later breaks the promise.
    late = b"\xef\xbb\xbf" + good + "衡".encode("gbk") + b"\r\n"
    assert _problem(_upload(client, late)) == (422, "import_unreadable", "bad_encoding")
    # Neither UTF-8 nor GB18030: a byte GB18030 never starts a character with.
    assert _problem(_upload(client, good + b"\xff\r\n")) == (
        422,
        "import_unreadable",
        "bad_encoding",
    )
    # GB18030 text with a NUL past the first pieces is not a table.
    nul = _csv([_row(serial) for serial in range(1, 300)], encoding="gbk") + b"\x00\r\n"
    assert _problem(_upload(client, "衡".encode("gbk") + nul)) == (
        422,
        "import_unreadable",
        "unreadable_file",
    )


def test_only_blanks_however_long_is_an_empty_file(client: TestClient, tiny_pieces: None) -> None:
    answer = _upload(client, b" \r\n\t" * 5_000)
    assert _problem(answer) == (422, "import_unreadable", "empty_file")
    assert "文件是空的" in answer.json()["detail"]
    nothing = _upload(client, b"")
    assert (nothing.status_code, nothing.json()["code"]) == (422, "empty_file")


def test_a_code_keeps_its_place_among_codes_kept_compactly(client: TestClient) -> None:
    # Codes that differ only in their last characters, or share them with
    # another region, are all different records: none is taken for another.
    codes = [
        uscc(region=region, serial=serial)
        for region in ("430422", "430421")
        for serial in (1, 2, 36, 37)
    ]
    assert len(set(codes)) == 8
    rows = [_row(0, 统一社会信用代码=code) for code in codes]
    first = _upload(client, _csv(rows))
    assert first.status_code == 200, first.text
    assert first.json()["created"] == 8
    again = _upload(client, _csv([*rows, rows[3]]))
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "duplicate_in_file"
    assert f"第 {1 + 4} 行已出现" in again.json()["errors"][0]["message"]
    # The same file once more: every row is found in the directory, none is new.
    same = _upload(client, _csv(rows))
    assert same.status_code == 200, same.text
    assert (same.json()["created"], same.json()["unchanged"]) == (0, 8)


def test_codes_kept_compactly_are_never_taken_for_one_another() -> None:
    normal = "91430422MA4L12345M"  # a valid code with capitals
    # Each of these reads as the same base-36 number as another, or as
    # `normal`, to a careless encoding (case, underscores, signs, spaces,
    # full-width digits, leading zeros); each is a different code.
    tricky = [
        normal,
        normal.lower(),
        normal[:8] + "_" + normal[9:],
        normal[:8] + "+" + normal[9:],
        normal[:8] + " " + normal[9:],
        normal[:17] + "９",
        normal[:8] + "0" + normal[8:],
        normal[:8] + normal[9:],
        uscc(serial=37),
        uscc(region="430421", serial=36),
    ]
    assert len(set(tricky)) == len(tricky)
    codes = CodeSet()
    assert "91430400MA4L1X2Y3Z" not in codes
    for code in tricky:
        assert code not in codes, code
        assert codes.add(code), code
        assert code in codes
    assert [codes.add(code) for code in tricky] == [False] * len(tricky)
    assert len(codes) == len(tricky)
    assert uscc(serial=38) not in codes and normal.upper()[:-1] not in codes
