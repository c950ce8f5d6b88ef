"""Time the log's Merkle proofs at 10k, 100k and 1M entries: `python bench/bench_log.py`.

The stored-subtree design means a proof reads O(log n) node hashes; this
measures the pure computation over an in-memory node table (the database adds
one indexed query per proof). Nothing here asserts a time: machines differ.
"""

from __future__ import annotations

import json
import sys
import time

from app.ledger import merkle


def _per_call(work: object, repeat: int) -> float:
    assert callable(work)
    start = time.perf_counter()
    for _ in range(repeat):
        work()
    return (time.perf_counter() - start) / repeat


def measure(size: int) -> dict[str, float]:
    """Append `size` entries, then time proofs against the full tree."""
    tree = merkle.MemoryTree()
    start = time.perf_counter()
    for i in range(size):
        tree.append(b'{"kind":"inspection","n":%d}' % i)
    append_rate = size / (time.perf_counter() - start)
    index, first = size // 3, size // 2 + 1
    inclusion = _per_call(lambda: merkle.inclusion_proof(index, size, tree.nodes), 200)
    consistency = _per_call(lambda: merkle.consistency_proof(first, size, tree.nodes), 200)
    nodes = len(merkle.inclusion_proof_nodes(index, size))
    return {
        "entries": size,
        "append_per_s": round(append_rate),
        "inclusion_ms": round(inclusion * 1000, 4),
        "consistency_ms": round(consistency * 1000, 4),
        "nodes_read_per_proof": nodes,
    }


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [10_000, 100_000, 1_000_000]
    results = [measure(size) for size in sizes]
    for r in results:
        print(
            f"{r['entries']:>9} entries: append {r['append_per_s']:>8}/s  "
            f"inclusion {r['inclusion_ms']:.4f} ms  consistency {r['consistency_ms']:.4f} ms  "
            f"({r['nodes_read_per_proof']} stored hashes read)"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
