"""The audit's reading of rows: raw, as the database holds them, never trusting a type.

An insider who drops the triggers can turn an entry's BLOB into TEXT, a hash into
NULL or a size into a string; the ORM would crash on such a row or quietly
convert it. Here each value is checked for the type its column must hold, and a
row that is not is named (table, key, column, what was found), so that the audit
reports it and goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

Problem = tuple[str, str]  # (where: "table key", what)


def rows(session: Session, sql: str) -> Iterator[tuple[Any, ...]]:
    """Rows of a literal query, as the driver returns them."""
    for row in session.execute(text(sql)):
        yield tuple(row)


def type_name(value: object) -> str:
    """The SQL-ish name of a driver value, for a report."""
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return "BLOB"
    if isinstance(value, str):
        return "TEXT"
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, float):
        return "REAL"
    return type(value).__name__


def as_bytes(value: object, length: int | None = None) -> bytes | None:
    """A BLOB value as bytes (of `length` if given), or None if it is not one."""
    if not isinstance(value, bytes | bytearray | memoryview):
        return None
    data = bytes(value)
    return data if length is None or len(data) == length else None


def as_int(value: object) -> int | None:
    """An INTEGER value, or None if it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_text(value: object) -> str | None:
    """A TEXT value, or None if it is not one."""
    return value if isinstance(value, str) else None


def wrong(table: str, key: object, column: str, value: object, wanted: str) -> str:
    """The report line of a value of the wrong type."""
    return f"{table}（{key}）的 {column} 为 {type_name(value)}，应为 {wanted}：该行被改动过"
