"""Time a draw over a large frame: `python bench/bench_engine.py [units] [take]`.

Prints each stage, and the naive "write every ticket and sort" order for
comparison. Nothing here asserts a time: machines differ.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from app.algorithm import check_frame, draw, frame_hash, make_seed
from app.algorithm.tickets import order, take


def make_frame(units: int, count: int) -> dict[str, Any]:
    """One count stratum of `units` enterprises, as a plan of a big province might freeze."""
    return {
        "algorithm": "draw/1",
        "strata": [
            {
                "id": "bench",
                "units": [
                    {"key": f"91430400{i:010d}", "attrs": {"county": "松木经开区"}}
                    for i in range(units)
                ],
                "count": count,
            }
        ],
        "inspectors": None,
        "cross": None,
    }


def timed(label: str, work: Callable[[], Any]) -> Any:
    """Run `work`, print how long it took, return its value."""
    start = time.perf_counter()
    value = work()
    print(f"{label:<38} {time.perf_counter() - start:7.2f} s", flush=True)
    return value


def main() -> None:
    """Time each stage of a draw, then the whole draw."""
    units = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    print(f"{units} units, take {count}")
    frame = timed("build frame (not part of a draw)", lambda: make_frame(units, count))
    keys = frame["strata"][0]["units"]
    ids = [u["key"] for u in keys]
    timed("check_frame", lambda: check_frame(frame))
    hashed = timed("frame_hash (rfc8785 JCS + SHA-256)", lambda: frame_hash(frame))
    seed = make_seed("dice", "38274619283746529183", hashed)
    fast = timed("take k (bucketed prefixes)", lambda: take(seed, ids, count))
    naive = timed("take k (naive: every ticket, sort)", lambda: order(seed, ids)[:count])
    assert fast == naive, "bucketed take disagrees with the naive order"
    result = timed("draw() end to end", lambda: draw(frame, seed))
    assert [(u["ticket"], u["key"]) for u in result["strata"][0]["selected"]] == naive


if __name__ == "__main__":
    main()
