"""The import beside the plain driver's floor, on each database, with memory.

`python -m bench.bench_import [rows...] [--quick] [--formats csv,xlsx] [--backends sqlite,postgresql]`

For each size (default 200k and 1M rows; `--quick`: 200k alone), writes a file
of scaled demo enterprises in each format (with the app's own CSV and XLSX
writers, as an export would), then imports it in a fresh child process into a
fresh database: every row parsed and validated (code check digits, terms,
dates), duplicates refused, rows written with their history through the
enterprise writer. The child reports the import's time (commit included) and
its own peak memory (VmHWM: not the parent's, which holds the generated rows),
so generating the file is not counted.
XLSX differs from CSV only in reading, so it is imported into SQLite alone.

Beside each CSV import, in the same run, another child writes the same rows
with the plain driver and nothing else: the enterprises and their history
records as ready tuples (values converted, JSON encoded beforehand), with
`sqlite3.executemany` or psycopg's COPY, into this very schema (its indexes,
constraints and commit): the floor no import can go below. Read the ratio to
the floor, not the seconds: the machine may be shared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any, cast

from sqlalchemy import make_url

import app.models  # noqa: F401  (every table: the ORM resolves foreign keys across them)
from app import reference as ref
from app.db import make_engine, make_sessionmaker
from app.pools.demo import iter_scaled_enterprises
from app.pools.importing import ENTERPRISE_COLUMNS, ENTERPRISES, run_import
from app.pools.tabular import write_csv, write_xlsx
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
DEFAULT_SIZES = [200_000, 1_000_000]
QUICK_SIZES = [200_000]
# The aims: the CSV import within this many times the plain driver's floor,
# XLSX within this many times CSV, and the peak memory of the largest import
# within this many times the smallest's (flat, whatever the file's length).
AIM_FLOOR_RATIO = 2.0
AIM_XLSX_RATIO = 1.5
AIM_MEMORY_RATIO = 1.5


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


def cpu_seconds() -> float:
    """The CPU time this process has used, all its threads (not the database
    server's): on a shared machine, steadier than the wall clock."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def import_file(path: Path, url: str) -> dict[str, float]:
    """Import `path` into the database at `url` (the child's work)."""
    engine = make_engine(url)
    with path.open("rb") as file, make_sessionmaker(engine)() as session:
        started, cpu = time.perf_counter(), cpu_seconds()
        report = run_import(ENTERPRISES, session, file=file, filename=path.name, actor="bench")
        session.commit()
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    engine.dispose()
    return {"rows": report.created, "seconds": seconds, "cpu_s": cpu, "peak_mb": peak_memory_mb()}


_ENTERPRISE_COLUMNS = ("id", "uscc", "name", "county_code", "sector", "subtype", "status",
                       "risk_grade", "key_supervision", "pair_key", "address", "created_at",
                       "updated_at", "version")  # fmt: skip
_RECORD_COLUMNS = ("entity", "entity_id", "action", "actor", "at", "import_id", "before",
                   "after")  # fmt: skip


def ready_tuples(
    total: int, now: Any, import_id: int, sqlite: bool
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The enterprises' rows and their history rows, as the driver takes them."""
    enterprises: list[tuple[Any, ...]] = []
    records: list[tuple[Any, ...]] = []
    for id_, e in enumerate(islice(iter_scaled_enterprises(total), total), start=1):
        enterprises.append((id_, e.uscc, e.name, e.county_code, e.sector, e.subtype,
                            "operating", e.risk_grade, e.key_supervision, None, e.address,
                            now, now, 1))  # fmt: skip
        after: dict[str, Any] = {"uscc": e.uscc, "name": e.name, "county_code": e.county_code,
                 "sector": e.sector, "subtype": e.subtype, "status": "operating",
                 "risk_grade": e.risk_grade, "key_supervision": e.key_supervision,
                 "tags": [], "pair_key": None, "address": e.address}  # fmt: skip
        # SQLite and psycopg's COPY both take JSON as its text.
        records.append(("enterprise", id_, "create", "bench", now, import_id, None,
                        json.dumps(after, ensure_ascii=False)))  # fmt: skip
    if sqlite:  # booleans as SQLite stores them
        enterprises = [(*r[:8], int(r[8]), *r[9:]) for r in enterprises]
    return enterprises, records


def floor(total: int, url: str) -> dict[str, float]:
    """Write what an import of `total` rows writes, with the plain driver, from
    tuples made ready beforehand (the child's work)."""
    now_dt = datetime.now(UTC)
    sqlite = url.startswith("sqlite")
    now: Any = now_dt.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else now_dt
    batch = ("enterprises", "floor", "0" * 64, "bench", now, 0, 0, 0, 0)
    batch_sql = (
        "INSERT INTO import_batches (target, filename, sha256, actor, at, rows, created,"
        " updated, unchanged) VALUES ({})"
    )
    ents_sql = f"enterprises ({', '.join(_ENTERPRISE_COLUMNS)})"
    recs_sql = f"change_records ({', '.join(_RECORD_COLUMNS)})"
    if sqlite:
        lite = sqlite3.connect(cast(str, make_url(url).database), isolation_level=None)
        lite.execute("PRAGMA foreign_keys=ON")
        lite.execute("PRAGMA journal_mode=WAL")
        lite.execute("BEGIN")
        import_id = lite.execute(batch_sql.format(", ".join("?" * 9)) + " RETURNING id",
                                       batch).fetchone()[0]  # fmt: skip
        enterprises, records = ready_tuples(total, now, import_id, sqlite=True)
        started, cpu = time.perf_counter(), cpu_seconds()
        lite.executemany(f"INSERT INTO {ents_sql} VALUES ({', '.join('?' * 14)})",
                               enterprises)  # fmt: skip
        middle = time.perf_counter()
        lite.executemany(f"INSERT INTO {recs_sql} VALUES ({', '.join('?' * 8)})", records)
        lite.execute("COMMIT")
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        lite.close()
    else:
        import psycopg

        plain = make_url(url).set(drivername="postgresql")
        with psycopg.connect(plain.render_as_string(hide_password=False)) as connection:
            cursor = connection.cursor()
            cursor.execute(batch_sql.format(", ".join(["%s"] * 9)) + " RETURNING id", batch)
            import_id = cast(tuple[int], cursor.fetchone())[0]
            enterprises, records = ready_tuples(total, now, import_id, sqlite=False)
            started, cpu = time.perf_counter(), cpu_seconds()
            with cursor.copy(f"COPY {ents_sql} FROM STDIN") as copy:
                for row in enterprises:
                    copy.write_row(row)
            middle = time.perf_counter()
            with cursor.copy(f"COPY {recs_sql} FROM STDIN") as copy:
                for row in records:
                    copy.write_row(row)
            connection.commit()
            seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"rows": total, "seconds": seconds, "cpu_s": cpu, "enterprises_s": middle - started,
            "peak_mb": peak_memory_mb()}  # fmt: skip


def measure(
    total: int, formats: list[str], backends: list[Backend], pg_admin_url: str | None, tmp: Path
) -> tuple[list[Figure], dict[str, float]]:
    """Generate `total` rows once, then import them in each format and database,
    each CSV import beside the floor; the figures, and the peak memory of each import."""
    started = time.perf_counter()
    cells = rows(total)
    figures: list[Figure] = []
    peaks: dict[str, float] = {}
    csv_seconds: float | None = None
    for fmt in formats:
        path = tmp / f"bench-{total}.{fmt}"
        write_file(cells, fmt, path)
        say(
            f"  {size_label(total)} rows as {fmt}: {path.stat().st_size / 1e6:.1f} MB, "
            f"generated in {time.perf_counter() - started:.1f} s (not timed)"
        )
        for backend in backends if fmt == "csv" else cast(list[Backend], ["sqlite"]):
            with fresh_database(backend, pg_admin_url) as url:
                result = module_in_child("bench.bench_import", "--child", str(path), url)
            seconds, peak = result["seconds"], result["peak_mb"]
            what = f"import {size_label(total)} {fmt}, {backend}"
            say(
                f"  imported {int(result['rows']):,} rows ({fmt}, {backend}) in {seconds:.1f} s "
                f"= {result['rows'] / seconds:,.0f} rows/s; peak memory {peak:,.0f} MB"
            )
            figures.append(info(f"{what}: time", seconds, "s"))
            figures.append(info(f"{what}: peak memory", peak, "MB"))
            peaks[f"{fmt}, {backend}"] = peak
            if fmt == "csv":
                if backend == "sqlite":
                    csv_seconds = seconds
                with fresh_database(backend, pg_admin_url) as url:
                    bare = module_in_child("bench.bench_import", "--floor", str(total), url)
                ratio = seconds / bare["seconds"]
                say(
                    f"  plain driver, same {total:,} enterprises + history ({backend}): "
                    f"{bare['seconds']:.1f} s (enterprises alone {bare['enterprises_s']:.1f} s), "
                    f"peak {bare['peak_mb']:,.0f} MB; the import took {ratio:.2f}× that"
                )
                figures.append(info(f"{what}: plain-driver floor", bare["seconds"], "s"))
                figures.append(
                    info(f"{what}: floor, enterprises alone", bare["enterprises_s"], "s")
                )
                figures.append(at_most(f"{what}: import / floor", ratio, "×", AIM_FLOOR_RATIO))
                if backend == "sqlite":  # the work is all in the process: CPU is comparable
                    cpu_ratio = result["cpu_s"] / bare["cpu_s"]
                    say(
                        f"  CPU time: the import {result['cpu_s']:.1f} s, the plain driver "
                        f"{bare['cpu_s']:.1f} s: {cpu_ratio:.2f}×"
                    )
                    figures.append(info(f"{what}: import / floor, CPU time", cpu_ratio, "×"))
            elif csv_seconds is not None:
                figures.append(
                    at_most(f"{what}: xlsx / csv", seconds / csv_seconds, "×", AIM_XLSX_RATIO)
                )
        path.unlink()
        started = time.perf_counter()
    return figures, peaks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int)
    parser.add_argument("--quick", action="store_true", help="200k rows alone")
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--floor", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(import_file(Path(args.child[0]), args.child[1])))
        return
    if args.floor is not None:
        print(json.dumps(floor(int(args.floor[0]), args.floor[1])))
        return
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    formats = args.formats.split(",")
    wanted = cast(list[Backend], args.backends.split(","))
    figures: list[Figure] = []
    peaks: dict[int, dict[str, float]] = {}
    with (
        postgres_server() if "postgresql" in wanted else contextlib.nullcontext() as pg_admin_url,
        tempfile.TemporaryDirectory(prefix="shuangsui-bench-import-") as tmp,
    ):
        backends = [b for b in wanted if b == "sqlite" or pg_admin_url is not None]
        for total in sizes:
            found, peaks[total] = measure(total, formats, backends, pg_admin_url, Path(tmp))
            figures += found
    smallest, largest = min(sizes), max(sizes)
    if largest > smallest:
        for what, peak in peaks[largest].items():
            growth = peak / peaks[smallest][what]
            label = f"import {what}: peak memory {size_label(largest)} / {size_label(smallest)}"
            figures.append(at_most(label, growth, "×", AIM_MEMORY_RATIO))
    emit(figures)


if __name__ == "__main__":
    main()
