"""Time a full-validation import: `python bench/bench_import.py [rows] [csv|xlsx]`.

Generates a file of scaled demo enterprises, imports it into a fresh SQLite
database (all rows validated, upserted, with history), and prints the time and
the peak memory. Nothing here asserts a time: machines differ.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

from app import reference as ref
from app.db import make_engine, make_sessionmaker
from app.migrate import upgrade
from app.pools.demo import iter_scaled_enterprises
from app.pools.importing import ENTERPRISE_COLUMNS, import_enterprises
from app.pools.tabular import write_csv, write_xlsx

LABELS = {t.code: t.label for t in ref.ALL_SUBTYPES}


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


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    fmt = sys.argv[2] if len(sys.argv) > 2 else "csv"
    headers = [c.header for c in ENTERPRISE_COLUMNS]
    started = time.perf_counter()
    cells = rows(total)
    data = (
        write_csv(headers, cells)
        if fmt == "csv"
        else write_xlsx(headers, cells, sheet_name="名录", text_columns={0})
    )
    print(
        f"generated {total} rows as {fmt} ({len(data) / 1e6:.1f} MB) in "
        f"{time.perf_counter() - started:.1f} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            started = time.perf_counter()
            report = import_enterprises(session, data=data, filename=f"bench.{fmt}", actor="bench")
            session.commit()
            elapsed = time.perf_counter() - started
        engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"imported {report.created} rows ({fmt}, SQLite) in {elapsed:.1f} s "
        f"= {report.created / elapsed:,.0f} rows/s; peak memory {peak_mb:,.0f} MB"
    )


if __name__ == "__main__":
    main()
