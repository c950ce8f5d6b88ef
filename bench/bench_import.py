"""A full-validation import: `python -m bench.bench_import [rows...] [--formats csv,xlsx]`.

For each size (default 100k and 1M rows), writes a file of scaled demo
enterprises in each format (with the app's own CSV and XLSX writers, as an
export would), then imports it in a fresh child process into a fresh SQLite
database: every row parsed and validated (code check digits, terms, dates),
duplicates refused, rows upserted with history. The child reports the import's
time and its own peak memory (getrusage maxrss), so the memory of generating
the file is not counted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from itertools import islice
from pathlib import Path

from app import reference as ref
from app.db import make_engine, make_sessionmaker
from app.pools.demo import iter_scaled_enterprises
from app.pools.importing import ENTERPRISE_COLUMNS, import_enterprises
from app.pools.tabular import write_csv, write_xlsx
from bench.common import (
    Figure,
    at_most,
    emit,
    fresh_database,
    info,
    module_in_child,
    peak_memory_mb,
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


def import_file(path: Path) -> dict[str, float]:
    """Import `path` into a fresh SQLite database (the child's work)."""
    data = path.read_bytes()
    with fresh_database("sqlite") as url:
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            started = time.perf_counter()
            report = import_enterprises(session, data=data, filename=path.name, actor="bench")
            session.commit()
            seconds = time.perf_counter() - started
        engine.dispose()
    return {"rows": report.created, "seconds": seconds, "peak_mb": peak_memory_mb()}


def import_in_child(path: Path) -> dict[str, float]:
    """Run `import_file` in a new process, so that its peak memory is the import's own."""
    return module_in_child("bench.bench_import", "--child", str(path))


def measure(total: int, formats: list[str], tmp: Path) -> list[Figure]:
    """Generate `total` rows once, then import them in each format."""
    started = time.perf_counter()
    cells = rows(total)
    figures: list[Figure] = []
    for fmt in formats:
        path = tmp / f"bench-{total}.{fmt}"
        write_file(cells, fmt, path)
        say(
            f"  {size_label(total)} rows as {fmt}: {path.stat().st_size / 1e6:.1f} MB, "
            f"generated in {time.perf_counter() - started:.1f} s (not timed)"
        )
        result = import_in_child(path)
        path.unlink()
        seconds, peak = result["seconds"], result["peak_mb"]
        rate = result["rows"] / seconds
        say(
            f"  imported {int(result['rows']):,} rows ({fmt}, SQLite) in {seconds:.1f} s "
            f"= {rate:,.0f} rows/s; peak memory of the importing process {peak:,.0f} MB"
        )
        what = f"import {size_label(total)} {fmt}"
        if total >= AIM_AT:
            figures.append(at_most(f"{what}: time", seconds, "s", AIMS_S[fmt]))
        else:
            figures.append(info(f"{what}: time", seconds, "s"))
        figures.append(info(f"{what}: rate", rate, "rows/s"))
        figures.append(info(f"{what}: peak memory", peak, "MB"))
        started = time.perf_counter()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000])
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(import_file(args.child)))
        return
    formats = args.formats.split(",")
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="shuangsui-bench-import-") as tmp:
        for total in args.sizes:
            figures += measure(total, formats, Path(tmp))
    emit(figures)


if __name__ == "__main__":
    main()
