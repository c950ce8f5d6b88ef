"""Run every benchmark, print its figures and a summary, keep them in bench/results/.

`python -m bench` (`make bench`): full sizes, about 15 minutes on a 2-core box.
`python -m bench --quick` (`make bench QUICK=1`): small sizes, about 2½ minutes.
`python -m bench --only engine,log`: some of them.

Each benchmark runs in its own process, one after the other (they would skew
each other's times if run together); a benchmark that fails is reported and
the others still run. Figures are measurements against aims, not tests: the
exit status is 0 whatever the figures, and 1 only when a benchmark crashed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from bench.common import FIGURES_PREFIX, ROOT

RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Benchmark:
    """One benchmark module, with its arguments at full and at quick sizes."""

    name: str
    title: str
    full: list[str]
    quick: list[str]

    @property
    def module(self) -> str:
        return f"bench.bench_{self.name}"


BENCHMARKS = [
    Benchmark(
        "engine",
        "engine: draw/1 vs consistent_sampler vs raw SHA-256",
        ["1000000", "50"],
        ["100000", "50"],
    ),
    Benchmark(
        "log",
        "log: append rate, proofs (in memory and through the database)",
        ["10000", "100000", "1000000"],
        ["10000", "100000"],
    ),
    Benchmark(
        "import",
        "import: full validation, CSV and XLSX, vs the bare writes of the same rows",
        # PostgreSQL at full size adds 3 minutes: `python -m bench.bench_import` alone runs it.
        ["100000", "1000000", "--backends", "sqlite"],
        ["20000"],
    ),
    Benchmark(
        "draw",
        "draw: 2024-hazchem plan, freeze + seed + result, service layer",
        ["both", "10000", "100000", "1000000"],
        ["both", "10000", "100000"],
    ),
    Benchmark(
        "hostile",
        "hostile: ceremonies and public pages with and without 64 idle attackers",
        ["--seconds", "30"],
        ["--seconds", "10"],
    ),
    Benchmark(
        "api",
        "api: public pages under 64 connections, 2 workers",
        ["both", "--seconds", "10"],
        ["both", "--seconds", "5"],
    ),
]


def run(benchmark: Benchmark, quick: bool) -> dict[str, Any]:
    """Run one benchmark in its own process, echoing its output as it comes."""
    command = [sys.executable, "-m", benchmark.module]
    command += benchmark.quick if quick else benchmark.full
    print(f"== {benchmark.title}\n   $ {' '.join(['python', *command[1:]])}", flush=True)
    started = time.perf_counter()
    lines: list[str] = []
    figures: list[dict[str, Any]] = []
    with subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    ) as child:
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith(FIGURES_PREFIX):
                figures += json.loads(line.removeprefix(FIGURES_PREFIX))
                continue
            print(line, end="", flush=True)
            lines.append(line)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        print(f"   !! {benchmark.name} failed (exit status {child.returncode})", flush=True)
    print(f"   ({seconds:.0f} s)\n", flush=True)
    return {
        "name": benchmark.name,
        "title": benchmark.title,
        "command": " ".join(["python", *command[1:]]),
        "seconds": round(seconds, 1),
        "returncode": child.returncode,
        "output": "".join(lines),
        "figures": figures,
    }


def show(value: float | None, unit: str) -> str:
    """A figure as the table prints it."""
    if value is None or math.isnan(value):
        return "not measured"
    if unit == "s":
        return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 1 else f"{value:.1f} ms"
    if unit == "×":
        return f"{value:.2f}×"
    return f"{value:,.0f} {unit}"


def table(runs: list[dict[str, Any]]) -> str:
    """Every figure of every run, with its aim and whether it was met, as Markdown."""
    out = ["| what | figure | aim | met |", "|---|---|---|---|"]
    for r in runs:
        if r["returncode"] != 0:
            out.append(f"| {r['name']} | crashed (exit status {r['returncode']}) | | ✗ |")
        for f in r["figures"]:
            figure = show(f["value"], f["unit"])
            if f.get("note"):
                figure += f" ({f['note']})"
            aim = f"{f['aim']} {f['unit']}" if f["aim"] else ""
            met = "" if f["met"] is None else ("✓" if f["met"] else "✗")
            out.append(f"| {f['what']} | {figure} | {aim} | {met} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about 2½ minutes")
    parser.add_argument("--only", help="comma-separated: " + ",".join(b.name for b in BENCHMARKS))
    args = parser.parse_args()
    chosen = [b for b in BENCHMARKS if not args.only or b.name in args.only.split(",")]
    started = time.perf_counter()
    runs = [run(b, args.quick) for b in chosen]
    elapsed = time.perf_counter() - started
    figures = [f for r in runs for f in r["figures"]]
    aimed = [f for f in figures if f["met"] is not None]
    met = sum(1 for f in aimed if f["met"])
    print("== summary" + (" (quick)" if args.quick else ""))
    print(table(runs))
    print(f"\n{met} of {len(aimed)} aims met; all benchmarks took {elapsed / 60:.1f} min")
    results = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "seconds": round(elapsed, 1),
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / time.strftime("%Y%m%dT%H%M%S.json")
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(f"results: {out.relative_to(ROOT)}")
    if any(r["returncode"] != 0 for r in runs):
        sys.exit(1)


if __name__ == "__main__":
    main()
