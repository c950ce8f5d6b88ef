"""The transparency log: `python -m bench.bench_log [sizes...] [--backends sqlite,postgresql]`.

Append rate: entries appended through app.ledger.store.append, one committed
transaction per entry as the service appends them, on SQLite and PostgreSQL.

Proofs at 10k, 100k and 1M entries (default): the stored-subtree design means
a proof reads O(log n) node hashes. Timed twice: as pure computation over an
in-memory node table, and through the database (app.ledger.store, one indexed
query per proof) after the tree's nodes are bulk-copied into a fresh database.
Each proof time is the mean over PROOFS proofs at spread-out indexes.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import insert

from app.db import make_engine, make_sessionmaker
from app.ledger import merkle, store
from app.ledger.models import LogNode
from bench.common import (
    Backend,
    Figure,
    at_most,
    emit,
    fresh_database,
    info,
    postgres_server,
    say,
    size_label,
    timed,
)

PROOFS = 200
APPEND_SECONDS = 5.0
AIM_PROOF_MS = 5.0
AIM_AT = 1_000_000


def entry(n: int) -> dict[str, Any]:
    """An entry shaped like a published inspection outcome."""
    return {
        "kind": "inspection",
        "at": "2025-06-30T08:00:00Z",
        "draw": "HY-2025-0001",
        "uscc": f"91430400{n:010d}",
        "outcome": "未发现问题",
    }


def build_tree(size: int) -> merkle.MemoryTree:
    """A log of `size` entries, in memory."""
    tree = merkle.MemoryTree()
    for i in range(size):
        tree.append(store.entry_bytes(entry(i)))
    return tree


def mean_ms(work: Callable[[int], object], size: int) -> float:
    """Mean milliseconds of `work(i)` over PROOFS values of i spread over [0, size)."""
    points = [(k * 7919 + 1) % size for k in range(PROOFS)]
    start = time.perf_counter()
    for i in points:
        work(i)
    return (time.perf_counter() - start) / PROOFS * 1000


def proof_figures(
    where: str, size: int, inclusion_ms: float, consistency_ms: float
) -> list[Figure]:
    """The two proof figures, with the aim at AIM_AT entries."""
    label = f"log {where} {size_label(size)}"
    say(f"  {where}: inclusion {inclusion_ms:.4f} ms, consistency {consistency_ms:.4f} ms")
    if size < AIM_AT:
        return [
            info(f"{label}: inclusion proof", inclusion_ms, "ms"),
            info(f"{label}: consistency proof", consistency_ms, "ms"),
        ]
    return [
        at_most(f"{label}: inclusion proof", inclusion_ms, "ms", AIM_PROOF_MS),
        at_most(f"{label}: consistency proof", consistency_ms, "ms", AIM_PROOF_MS),
    ]


def memory_proofs(tree: merkle.MemoryTree) -> list[Figure]:
    """Proofs as pure computation over the in-memory node table."""
    size = tree.size
    inclusion = mean_ms(lambda i: merkle.inclusion_proof(i, size, tree.nodes), size)
    consistency = mean_ms(lambda i: merkle.consistency_proof(i + 1, size, tree.nodes), size)
    return proof_figures("in memory", size, inclusion, consistency)


def copy_nodes(url: str, backend: Backend, tree: merkle.MemoryTree) -> None:
    """Bulk-copy the tree's node hashes into the log_nodes table of a fresh database."""
    rows = [(level, idx, h) for (level, idx), h in tree.nodes.items()]
    engine = make_engine(url)
    with engine.begin() as conn:
        if backend == "postgresql":
            cursor = conn.connection.driver_connection.cursor()
            with cursor.copy("COPY log_nodes (level, idx, hash) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            conn.execute(
                insert(LogNode), [{"level": r[0], "idx": r[1], "hash": r[2]} for r in rows]
            )
    engine.dispose()


def database_proofs(
    backend: Backend, tree: merkle.MemoryTree, pg_admin_url: str | None
) -> list[Figure]:
    """Proofs through app.ledger.store, reading the stored hashes from the database."""
    size = tree.size
    with fresh_database(backend, pg_admin_url) as url:
        timed(
            f"copy {len(tree.nodes):,} node hashes into {backend}",
            lambda: copy_nodes(url, backend, tree),
        )
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            expected = merkle.inclusion_proof(size // 3, size, tree.nodes)
            assert store.inclusion_proof(session, size // 3, size) == expected
            inclusion = mean_ms(lambda i: store.inclusion_proof(session, i, size), size)
            consistency = mean_ms(lambda i: store.consistency_proof(session, i + 1, size), size)
        engine.dispose()
    return proof_figures(backend, size, inclusion, consistency)


def append_rate(backend: Backend, pg_admin_url: str | None) -> list[Figure]:
    """Entries per second through store.append, one committed transaction each."""
    with fresh_database(backend, pg_admin_url) as url:
        engine = make_engine(url)
        factory = make_sessionmaker(engine)
        appended = 0
        start = time.perf_counter()
        while time.perf_counter() - start < APPEND_SECONDS:
            with factory() as session:
                store.append(session, entry(appended))
                session.commit()
            appended += 1
        rate = appended / (time.perf_counter() - start)
        engine.dispose()
    say(f"  {backend}: {appended:,} appends, {rate:,.0f} entries/s (one transaction each)")
    return [info(f"log {backend}: append rate (commit per entry)", rate, "entries/s")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    backends: list[Backend] = [b for b in ("sqlite", "postgresql") if b in args.backends]
    figures: list[Figure] = []
    server = postgres_server() if "postgresql" in backends else contextlib.nullcontext(None)
    with server as pg_admin_url:
        if pg_admin_url is None and "postgresql" in backends:
            backends.remove("postgresql")
        say("append rate:")
        for backend in backends:
            figures += append_rate(backend, pg_admin_url)
        for size in args.sizes:
            say(f"proofs at {size:,} entries:")
            tree, _ = timed(
                f"build an in-memory log of {size_label(size)} entries", partial(build_tree, size)
            )
            figures += memory_proofs(tree)
            for backend in backends:
                figures += database_proofs(backend, tree, pg_admin_url)
    emit(figures)


if __name__ == "__main__":
    main()
