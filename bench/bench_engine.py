"""The draw/1 engine: `python -m bench.bench_engine [units] [take]`.

Orders `units` ids by draw/1 ticket and takes the first `take`, side by side
in one run with PyPI's `consistent_sampler` (Rivest's reference, same tickets,
same ids, same seed: the outputs must be equal) and with plain SHA-256 of the
same hash inputs (the floor: no engine can hash less). The three are timed in
turn, round after round, and the best round of each is kept, so that a noisy
shared machine slows each of them alike. Then the stages of a whole draw/1 over
a frame of that size, for the record.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Callable
from typing import Any

import consistent_sampler

from app.algorithm import check_frame, draw, frame_hash, make_seed
from app.algorithm.tickets import order, seed_hash, take
from bench.common import Figure, at_least, at_most, emit, info, say, size_label, timed

ROUNDS = 3
# Reference runs longer than this at full size are run at REFERENCE_FALLBACK ids instead.
REFERENCE_BUDGET_S = 120.0
REFERENCE_FALLBACK = 100_000


def make_ids(units: int) -> list[str]:
    """Enterprise codes as a big province's frame holds them (18 characters)."""
    return [f"91430400{i:010d}" for i in range(units)]


def make_frame(ids: list[str], count: int) -> dict[str, Any]:
    """One count stratum over `ids`, as a plan of a big province might freeze."""
    return {
        "algorithm": "draw/1",
        "strata": [
            {
                "id": "bench",
                "units": [{"key": key, "attrs": {"county": "松木经开区"}} for key in ids],
                "count": count,
            }
        ],
        "inspectors": None,
        "cross": None,
    }


def best_of(rounds: int, runs: dict[str, Callable[[], Any]]) -> dict[str, float]:
    """Each run's best time over `rounds` rounds, the runs taking turns within a round."""
    best = dict.fromkeys(runs, float("inf"))
    for r in range(rounds):
        line = []
        for name, work in runs.items():
            start = time.perf_counter()
            work()
            seconds = time.perf_counter() - start
            best[name] = min(best[name], seconds)
            line.append(f"{name} {seconds:.3f} s")
        say(f"  round {r + 1}: " + ", ".join(line))
    return best


def compare(units: int, count: int) -> list[Figure]:
    """draw/1 vs consistent_sampler vs raw SHA-256 over the same ids and seed."""
    ids = make_ids(units)
    seed = make_seed("dice", "38274619283746529183", "0" * 64)
    hashed = seed_hash(seed)

    def ours() -> list[str]:
        return [key for _, key in take(seed, ids, count)]

    def reference() -> list[str]:
        return list(consistent_sampler.sampler(ids, seed=seed, take=count, output="id"))

    def floor() -> list[bytes]:
        # Exactly the hash inputs of the tickets: SHA-256(seed_hash + id).
        return [hashlib.sha256((hashed + key).encode()).digest() for key in ids]

    label = size_label(units)
    equal = ours() == reference()
    say(f"  outputs equal (draw/1 take {count} == consistent_sampler take {count}): {equal}")
    if not equal:
        raise SystemExit("draw/1 and consistent_sampler disagree: the engine is wrong")
    best = best_of(ROUNDS, {"draw/1": ours, "consistent_sampler": reference, "sha256": floor})
    vs_reference = best["consistent_sampler"] / best["draw/1"]
    vs_floor = best["draw/1"] / best["sha256"]
    say(
        f"  best of {ROUNDS}: draw/1 {best['draw/1']:.3f} s, consistent_sampler "
        f"{best['consistent_sampler']:.3f} s, raw SHA-256 {best['sha256']:.3f} s"
    )
    say(
        f"  draw/1 is {vs_reference:.1f}× faster than consistent_sampler, "
        f"{vs_floor:.2f}× the time of raw hashing"
    )
    return [
        info(f"engine {label}: draw/1 take {count}", best["draw/1"], "s"),
        info(f"engine {label}: consistent_sampler take {count}", best["consistent_sampler"], "s"),
        info(f"engine {label}: raw SHA-256 of the ids", best["sha256"], "s"),
        at_least(f"engine {label}: speed-up over consistent_sampler", vs_reference, "×", 5),
        at_most(f"engine {label}: time / raw hashing", vs_floor, "×", 2),
    ]


def reference_fits(units: int, count: int) -> bool:
    """Whether consistent_sampler over `units` ids should finish within the budget."""
    probe = min(units, REFERENCE_FALLBACK)
    ids = make_ids(probe)
    start = time.perf_counter()
    list(consistent_sampler.sampler(ids, seed="probe", take=count, output="id"))
    estimate = (time.perf_counter() - start) * units / probe
    say(f"  consistent_sampler estimate at {size_label(units)}: {estimate:.1f} s")
    return estimate <= REFERENCE_BUDGET_S


def stages(units: int, count: int) -> list[Figure]:
    """The stages of a whole draw/1 over a frame of `units` units."""
    ids = make_ids(units)
    frame, _ = timed("build frame (not part of a draw)", lambda: make_frame(ids, count))
    timed("check_frame", lambda: check_frame(frame))
    hashed, hash_s = timed("frame_hash (RFC 8785 JCS + SHA-256)", lambda: frame_hash(frame))
    seed = make_seed("dice", "38274619283746529183", hashed)
    fast, take_s = timed(f"take {count} (bucketed prefixes)", lambda: take(seed, ids, count))
    naive, naive_s = timed(
        f"take {count} (naive: every ticket, sort)", lambda: order(seed, ids)[:count]
    )
    assert fast == naive, "bucketed take disagrees with the naive order"
    result, draw_s = timed("draw() end to end", lambda: draw(frame, seed))
    assert [(u["ticket"], u["key"]) for u in result["strata"][0]["selected"]] == naive
    label = size_label(units)
    return [
        info(f"engine {label}: frame_hash (JCS + SHA-256)", hash_s, "s"),
        info(f"engine {label}: naive order (every ticket, sort)", naive_s, "s"),
        info(f"engine {label}: draw() end to end", draw_s, "s"),
    ]


def main() -> None:
    units = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    say(f"engine: {units:,} ids, take {count}")
    figures: list[Figure] = []
    if reference_fits(units, count):
        figures += compare(units, count)
    else:
        say(
            f"  consistent_sampler is too slow at {size_label(units)}: "
            f"compared at {size_label(REFERENCE_FALLBACK)} instead"
        )
        figures += compare(REFERENCE_FALLBACK, count)
    say("stages of a draw:")
    figures += stages(units, count)
    emit(figures)


if __name__ == "__main__":
    main()
