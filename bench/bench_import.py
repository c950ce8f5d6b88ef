"""A full-validation import, and the bare database writes it cannot go below.

`python -m bench.bench_import [rows...] [--formats csv,xlsx] [--backends sqlite,postgresql]`

For each size (default 100k and 1M rows), writes a file of scaled demo
enterprises in each format (with the app's own CSV and XLSX writers, as an
export would), then imports it in a fresh child process into a fresh database:
every row parsed and validated (code check digits, terms, dates), duplicates
refused, rows upserted with history. The child reports the import's time and
its own peak memory (getrusage maxrss), so the memory of generating the file is
not counted. XLSX differs from CSV only in reading, so it is imported into
SQLite alone.

Side by side, at the largest size, another child writes the same enterprises
and history records straight through the driver (app.bulk, as the import
does), prepared in memory beforehand: the database's own cost of storing them
(its indexes, constraints and commit), which no import can go below. The
import's time over that floor is the ratio to read on a noisy machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
import time
from itertools import islice
from pathlib import Path
from typing import cast

from sqlalchemy import Table

from app import reference as ref
from app.bulk import insert_rows, next_ids
from app.db import make_engine, make_sessionmaker
from app.history import ChangeRecord
from app.pools.demo import iter_scaled_enterprises
from app.pools.importing import CHUNK_ROWS, ENTERPRISE_COLUMNS, import_enterprises, start_batch
from app.pools.models import Enterprise
from app.pools.tabular import write_csv, write_xlsx
from app.types import utcnow
from bench.common import (
    Backend,
    Figure,
    at_most,
    emit,
    fresh_database,
    info,
    module_in_child,
    peak_memory_mb,
    postgres_server,
    say,
    size_label,
)

LABELS = {t.code: t.label for t in ref.ALL_SUBTYPES}
# The aims, in seconds, for an import of AIM_AT rows.
AIM_AT = 1_000_000
AIMS_S = {"csv": 30.0, "xlsx": 60.0}


def rows(total: int) -> list[list[str]]:
    """The scaled pool as the cells of an import file."""
    out = []
    for e in islice(iter_scaled_enterprises(total), total):
        out.append(
            [
                e.uscc,
                e.name,
                ref.COUNTY_BY_CODE[e.county_code].name,
                "",
                LABELS[e.subtype],
                "",
                e.risk_grade or "",
                "是" if e.key_supervision else "否",
                "",
                "",
                e.address,
            ]
        )
    return out


def write_file(cells: list[list[str]], fmt: str, path: Path) -> None:
    """The cells as an import file, written as the app writes its exports."""
    headers = [c.header for c in ENTERPRISE_COLUMNS]
    if fmt == "csv":
        path.write_bytes(write_csv(headers, cells))
    else:
        path.write_bytes(write_xlsx(headers, cells, sheet_name="名录", text_columns={0}))


def import_file(path: Path, url: str) -> dict[str, float]:
    """Import `path` into the database at `url` (the child's work)."""
    data = path.read_bytes()
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        started = time.perf_counter()
        report = import_enterprises(session, data=data, filename=path.name, actor="bench")
        session.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": report.created, "seconds": seconds, "peak_mb": peak_memory_mb()}


def bare_writes(total: int, url: str) -> dict[str, float]:
    """Write what an import of `total` rows writes, prepared beforehand (the child's work)."""
    enterprises = cast(Table, Enterprise.__table__)
    records = cast(Table, ChangeRecord.__table__)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        batch = start_batch(
            session, target="enterprises", filename="bench", data=b"", actor="bench"
        )
        ids = next_ids(session, enterprises, total)
        now = utcnow()
        prepared = []
        for id_, e in zip(ids, islice(iter_scaled_enterprises(total), total), strict=True):
            row = (id_, e.uscc, e.name, e.county_code, e.sector, e.subtype, "operating",
                   e.risk_grade, e.key_supervision, None, e.address)  # fmt: skip
            after = {"uscc": e.uscc, "name": e.name, "county_code": e.county_code,
                     "sector": e.sector, "subtype": e.subtype, "status": "operating",
                     "risk_grade": e.risk_grade, "key_supervision": e.key_supervision,
                     "tags": [], "pair_key": None, "address": e.address}  # fmt: skip
            prepared.append((row, (id_, after)))
        columns = ("id", "uscc", "name", "county_code", "sector", "subtype", "status",
                   "risk_grade", "key_supervision", "pair_key", "address")  # fmt: skip
        history = {"entity": "enterprise", "action": "create", "actor": "bench", "at": now,
                   "import_id": batch.id, "before": None}  # fmt: skip
        started = time.perf_counter()
        for start in range(0, total, CHUNK_ROWS):
            part = prepared[start : start + CHUNK_ROWS]
            insert_rows(session, enterprises, columns, [r for r, _ in part],
                        same={"created_at": now, "updated_at": now, "version": 1})  # fmt: skip
            insert_rows(session, records, ("entity_id", "after"), [h for _, h in part],
                        same=history)  # fmt: skip
        session.commit()
        seconds = time.perf_counter() - started
    engine.dispose()
    return {"rows": total, "seconds": seconds}


def measure(
    total: int,
    formats: list[str],
    backends: list[Backend],
    pg_admin_url: str | None,
    tmp: Path,
    floor: bool,
) -> list[Figure]:
    """Generate `total` rows once, then import them in each format and database."""
    started = time.perf_counter()
    cells = rows(total)
    figures: list[Figure] = []
    imported: dict[Backend, float] = {}
    for fmt in formats:
        path = tmp / f"bench-{total}.{fmt}"
        write_file(cells, fmt, path)
        say(
            f"  {size_label(total)} rows as {fmt}: {path.stat().st_size / 1e6:.1f} MB, "
            f"generated in {time.perf_counter() - started:.1f} s (not timed)"
        )
        for backend in backends if fmt == "csv" else ["sqlite"]:
            with fresh_database(backend, pg_admin_url) as url:
                result = module_in_child("bench.bench_import", "--child", str(path), url)
            seconds, peak = result["seconds"], result["peak_mb"]
            rate = result["rows"] / seconds
            say(
                f"  imported {int(result['rows']):,} rows ({fmt}, {backend}) in {seconds:.1f} s "
                f"= {rate:,.0f} rows/s; peak memory of the importing process {peak:,.0f} MB"
            )
            what = f"import {size_label(total)} {fmt}, {backend}"
            if total >= AIM_AT:
                figures.append(at_most(f"{what}: time", seconds, "s", AIMS_S[fmt]))
            else:
                figures.append(info(f"{what}: time", seconds, "s"))
            figures.append(info(f"{what}: rate", rate, "rows/s"))
            figures.append(info(f"{what}: peak memory", peak, "MB"))
            if fmt == "csv":
                imported[backend] = seconds
        path.unlink()
        started = time.perf_counter()
    if floor:
        for backend, seconds in imported.items():
            with fresh_database(backend, pg_admin_url) as url:
                bare = module_in_child("bench.bench_import", "--floor", str(total), url)
            say(
                f"  bare writes of the same {total:,} enterprises and history records "
                f"({backend}): {bare['seconds']:.1f} s; the CSV import took "
                f"{seconds / bare['seconds']:.2f}× that"
            )
            what = f"import {size_label(total)} csv, {backend}"
            figures.append(info(f"{what}: bare database writes", bare["seconds"], "s"))
            figures.append(info(f"{what}: import / bare writes", seconds / bare["seconds"], "×"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(import_file(Path(args.child[0]), args.child[1])))
        return
    if args.floor is not None:
        print(json.dumps(bare_writes(int(args.floor[0]), args.floor[1])))
        return
    formats = args.formats.split(",")
    wanted = cast(list[Backend], args.backends.split(","))
    figures: list[Figure] = []
    with (
        postgres_server() if "postgresql" in wanted else contextlib.nullcontext() as pg_admin_url,
        tempfile.TemporaryDirectory(prefix="shuangsui-bench-import-") as tmp,
    ):
        backends = [b for b in wanted if b == "sqlite" or pg_admin_url is not None]
        largest = max(args.sizes)
        for total in args.sizes:
            figures += measure(
                total, formats, backends, pg_admin_url, Path(tmp), floor=total == largest
            )
    emit(figures)


if __name__ == "__main__":
    main()
