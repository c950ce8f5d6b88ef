"""Run every benchmark, print its figures, and keep them in bench/results/."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ("engine: draw over 1,000,000 units", ["bench/bench_engine.py", "1000000", "50"]),
    ("log: proofs at 10k, 100k, 1M entries", ["bench/bench_log.py"]),
    ("import: 100,000 rows, CSV, SQLite", ["bench/bench_import.py", "100000", "csv"]),
]


def main() -> None:
    results = {"machine": platform.platform(), "python": platform.python_version(), "runs": []}
    for title, args in BENCHMARKS:
        print(f"== {title}")
        started = time.perf_counter()
        output = subprocess.run(
            [sys.executable, *args], cwd=HERE.parent, capture_output=True, text=True, check=True
        ).stdout
        print(output.rstrip())
        results["runs"].append(
            {"title": title, "output": output, "seconds": round(time.perf_counter() - started, 1)}
        )
    out = HERE / "results" / time.strftime("%Y%m%dT%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1) + "\n")
    print(f"results: {out.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
