"""The witness's memory: for each log origin, the latest checkpoint it cosigned (SQLite).

Checking a request's old size against the stored size and storing the new
checkpoint happen in one write transaction (BEGIN IMMEDIATE), so two requests
can never both pass the check and roll the stored size back (tlog-witness).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from app.ledger.merkle import EMPTY_ROOT

STATE_FILE = "witness.sqlite3"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Latest:
    """The latest cosigned checkpoint of one origin (size 0 and the empty root if none)."""

    size: int
    root: bytes
    note: str | None


class WitnessState:
    """The state file of one witness."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._connect() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS checkpoints ("
                " origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,"
                " note TEXT NOT NULL, at INTEGER NOT NULL)"
            )
            # Requests refused although the log's signature was valid: evidence of misbehaviour.
            conn.execute(
                "CREATE TABLE IF NOT EXISTS refusals ("
                " id INTEGER PRIMARY KEY, origin TEXT NOT NULL, status INTEGER NOT NULL,"
                " reason TEXT NOT NULL, body BLOB NOT NULL, at INTEGER NOT NULL)"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            yield conn
        finally:
            conn.close()

    def latest(self, origin: str) -> Latest:
        with self._connect() as conn:
            return _latest(conn, origin)

    def update(self, origin: str, decide: Callable[[Latest], tuple[T, Latest | None]]) -> T:
        """Run `decide` on the stored state and store what it returns, atomically.

        `decide` returns (answer, new state or None to keep the old one).
        """
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                answer, new = decide(_latest(conn, origin))
                if new is not None:
                    assert new.note is not None
                    conn.execute(
                        "INSERT INTO checkpoints (origin, size, root, note, at)"
                        " VALUES (?, ?, ?, ?, strftime('%s','now'))"
                        " ON CONFLICT (origin) DO UPDATE SET size = excluded.size,"
                        " root = excluded.root, note = excluded.note, at = excluded.at",
                        (origin, new.size, new.root, new.note),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return answer

    def refused(self, origin: str, status: int, reason: str, body: bytes) -> None:
        """Keep a validly signed request that failed a consistency check."""
        with self._connect() as conn:
            conn.execute(
                "INSERT INTO refusals (origin, status, reason, body, at)"
                " VALUES (?, ?, ?, ?, strftime('%s','now'))",
                (origin, status, reason, body),
            )


def _latest(conn: sqlite3.Connection, origin: str) -> Latest:
    row = conn.execute(
        "SELECT size, root, note FROM checkpoints WHERE origin = ?", (origin,)
    ).fetchone()
    if row is None:
        return Latest(0, EMPTY_ROOT, None)
    return Latest(int(row[0]), bytes(row[1]), str(row[2]))
