"""What every benchmark shares: timing, figures with their aims, fresh databases.

A benchmark prints its figures for people, then one line `FIGURES [...]` (JSON)
that `python -m bench` collects into the summary table and the results file.
Figures are measurements, not pass/fail tests: an aim missed is reported, never
raised.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, text

from app.migrate import upgrade
from tests.pg import find_pg_bin, running_server

ROOT = Path(__file__).resolve().parent.parent

Backend = Literal["sqlite", "postgresql"]
FIGURES_PREFIX = "FIGURES "


@dataclass
class Figure:
    """One measured figure, and the aim it is held against (if any)."""

    what: str
    value: float | None  # None: not measured (see the note)
    unit: str
    aim: str | None = None  # as printed: "≥ 5", "≤ 10"
    met: bool | None = None
    note: str | None = None


def info(what: str, value: float | None, unit: str, note: str | None = None) -> Figure:
    """A figure without an aim."""
    return Figure(what, value, unit, note=note)


def at_least(
    what: str, value: float | None, unit: str, aim: float, note: str | None = None
) -> Figure:
    """A figure that should reach `aim` (a figure not measured misses it)."""
    return Figure(what, value, unit, f"≥ {aim:g}", value is not None and value >= aim, note)


def at_most(
    what: str, value: float | None, unit: str, aim: float, note: str | None = None
) -> Figure:
    """A figure that should stay within `aim` (a figure not measured misses it)."""
    return Figure(what, value, unit, f"≤ {aim:g}", value is not None and value <= aim, note)


def emit(figures: list[Figure]) -> None:
    """Print the machine-readable line that `python -m bench` collects."""
    print(FIGURES_PREFIX + json.dumps([asdict(f) for f in figures], ensure_ascii=False), flush=True)


def say(message: str) -> None:
    """Print a progress line at once (the runner streams it)."""
    print(message, flush=True)


def timed(label: str, work: Callable[[], Any]) -> tuple[Any, float]:
    """Run `work`; print and return its value and how many seconds it took."""
    start = time.perf_counter()
    value = work()
    seconds = time.perf_counter() - start
    say(f"  {label:<52} {seconds:8.3f} s")
    return value, seconds


def size_label(n: int) -> str:
    """10000 -> '10k', 1000000 -> '1M'."""
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in MB.

    Linux's VmHWM, the high-water mark of this program's own memory: getrusage's
    maxrss survives exec, so a child started by a benchmark that holds a
    million generated rows would report the parent's size at the fork."""
    import resource

    with contextlib.suppress(OSError), open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def parse_sizes(args: list[str], default: list[int]) -> list[int]:
    """Sizes given on the command line (`100000 1000000`), or the default ones."""
    return [int(a) for a in args] or default


@contextlib.contextmanager
def postgres_server() -> Iterator[str | None]:
    """A throw-away PostgreSQL server's admin URL, or None when PostgreSQL is not installed."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        say("  PostgreSQL is not installed here (initdb/pg_ctl not found): PostgreSQL skipped")
        yield None
        return
    with running_server(bin_dir) as url:
        yield url


_databases = iter(range(1, 1_000_000))


@contextlib.contextmanager
def fresh_database(backend: Backend, pg_admin_url: str | None = None) -> Iterator[str]:
    """The URL of a new, migrated, empty database; removed afterwards."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="shuangsui-bench-") as tmp:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            upgrade(url)
            yield url
        return
    assert pg_admin_url is not None, "a PostgreSQL database needs a running server"
    name = f"bench_{os.getpid()}_{next(_databases)}"
    _admin(pg_admin_url, f"CREATE DATABASE {name}")
    try:
        url = f"{pg_admin_url}/{name}"
        upgrade(url)
        yield url
    finally:
        _admin(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _admin(admin_url: str, statement: str) -> None:
    engine = create_engine(f"{admin_url}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(statement))
    engine.dispose()


def module_in_child(module: str, *args: str) -> dict[str, float]:
    """Run `python -m module args` from the project root; its last line is a JSON object."""
    output = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result
