"""Exports with flat memory: a file of many rows is written as its rows are read, so the
memory an export takes does not grow with the directory (CSV and XLSX alike)."""

from __future__ import annotations

import csv
import io
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import astuple
from itertools import islice

import pytest
from python_calamine import CalamineWorkbook
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo import iter_scaled_enterprises
from app.pools.enterprise_writer import NewEnterprise, create_enterprises
from app.pools.tabular import write_csv_to, write_xlsx_to
from tests.factories import ApiClient

HEADERS = ["代码", "名称", "地址"]


def _row(i: int) -> list[str]:
    return [f"91430400{i:010d}", f"衡阳市第{i}号加油站有限公司", f"衡阳市蒸湘区某路{i}号" * 3]


class _Counted:
    """Rows handed out one at a time, counting how many have been taken."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.taken = 0

    def __iter__(self) -> Iterator[list[str]]:
        for i in range(self.total):
            self.taken += 1
            yield _row(i)


class _Watched(io.BytesIO):
    """A file that notes how many rows had been taken at each write."""

    def __init__(self, rows: _Counted) -> None:
        super().__init__()
        self.rows = rows
        self.taken_at_writes: list[int] = []

    def write(self, data: bytes, /) -> int:  # type: ignore[override]
        self.taken_at_writes.append(self.rows.taken)
        return super().write(data)


def test_csv_is_written_while_the_rows_are_still_being_read() -> None:
    rows = _Counted(10_000)
    out = _Watched(rows)
    write_csv_to(out, HEADERS, rows)
    # Bytes reach the file long before the last row is read: it never holds them all.
    with_rows = [taken for taken in out.taken_at_writes if taken > 0]
    assert with_rows[0] <= 2_000
    assert len(with_rows) >= 5
    parsed = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert parsed[0] == HEADERS
    assert len(parsed) == 10_001
    assert parsed[-1] == _row(9_999)


def _peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _xlsx(total: int) -> bytes:
    out = io.BytesIO()
    write_xlsx_to(out, HEADERS, (_row(i) for i in range(total)), sheet_name="名录")
    return out.getvalue()


def test_xlsx_memory_does_not_grow_with_the_rows() -> None:
    small = _peak(lambda: _xlsx(2_000))
    large = _peak(lambda: _xlsx(40_000))
    # Twenty times the rows; a writer that kept its cells in memory would take ~20×.
    assert large < 2 * small, (small, large)
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(_xlsx(40_000))).get_sheet_by_index(0)
    cells = sheet.to_python()
    assert cells[0] == HEADERS
    assert len(cells) == 40_001
    assert cells[-1] == _row(39_999)


def _add_enterprises(factory: sessionmaker[Session], start: int, stop: int) -> None:
    generated = islice(iter_scaled_enterprises(stop), start, None)
    new = [
        NewEnterprise(*astuple(e)[:8], e.pair_key, e.address, tuple(sorted(set(e.tags))))
        for e in generated
    ]
    with factory() as session:
        create_enterprises(session, new, actor="测试")
        session.commit()


def _export_peak(client: ApiClient, fmt: str) -> tuple[int, int]:
    """Peak traced memory of one export through the API, and the file's size."""
    size = 0

    def export() -> None:
        nonlocal size
        with client.stream("GET", f"/api/v1/enterprises/export?format={fmt}") as answer:
            assert answer.status_code == 200
            for chunk in answer.iter_bytes():
                size += len(chunk)

    return _peak(export), size


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_export_route_takes_flat_memory(
    client: ApiClient, session_factory: sessionmaker[Session], fmt: str
) -> None:
    _add_enterprises(session_factory, 0, 1_500)
    small, small_size = _export_peak(client, fmt)
    _add_enterprises(session_factory, 1_500, 15_000)
    large, large_size = _export_peak(client, fmt)
    assert large_size > 8 * small_size  # the file did grow with the rows
    # Ten times the rows: the export that loaded them all took about ten times the memory.
    assert large < 3 * small, (small, large)
