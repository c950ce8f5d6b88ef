"""Inserting many rows at the database driver's own speed.

An import of a whole city's directory writes a million enterprises and as many
history records. Through SQLAlchemy's executemany each row's parameters pass
through its per-statement machinery, which costs several times the insert
itself; here rows go straight to the driver: PostgreSQL's COPY, and on SQLite
INSERT statements of many rows each. Values are converted by the columns' own
SQLAlchemy types (so a timestamp or a JSON document is stored exactly as the
ORM would store it), and a value the same for every row is converted once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Column, Table, func, select
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

_Processor = Callable[[Any], Any]

# Rows per INSERT on SQLite. sqlite3 releases the GIL for each statement it
# steps; with many rows a statement, a thread writing an import lets the
# thread validating the next rows run instead of queueing for the GIL per row.
SQLITE_ROWS_PER_STATEMENT = 5_000


def insert_rows(
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    same: Mapping[str, Any] | None = None,
    encoded: Collection[str] = (),
) -> None:
    """Insert `rows` (values in the order of `columns`) into `table`, each also
    carrying the values of `same`, in the session's transaction. The values of
    the `encoded` columns are already as the driver takes them (a JSON
    document as its text), and are not converted again."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    same = same or {}
    names = [*columns, *same]
    convert = [
        (i, p)
        for i, name in enumerate(columns)
        if name not in encoded and (p := _processor(table.c[name], dialect))
    ]
    fixed = tuple(_convert(table.c[name], dialect, value) for name, value in same.items())
    driver_rows = _driver_rows(rows, convert, fixed)
    preparer = dialect.identifier_preparer
    target = f"{preparer.format_table(table)} ({', '.join(preparer.quote(n) for n in names)})"
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None
        statement = f"COPY {target} FROM STDIN"
        try:
            with driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in driver_rows:
                    copy.write_row(row)
        except dialect.loaded_dbapi.Error as exc:
            # As SQLAlchemy raises it for its own statements (IntegrityError, DataError...).
            raise DBAPIError.instance(
                statement, None, exc, dialect.loaded_dbapi.Error, dialect=dialect
            ) from exc
        return
    if dialect.name != "sqlite":
        raise NotImplementedError(f"bulk insert into {dialect.name}")
    per_statement = min(SQLITE_ROWS_PER_STATEMENT, _sqlite_variable_limit(connection) // len(names))
    one_row = "(" + ", ".join("?" * len(names)) + ")"
    for start in range(0, len(driver_rows), per_statement):
        part = driver_rows[start : start + per_statement]
        values = ", ".join([one_row] * len(part))
        connection.exec_driver_sql(
            f"INSERT INTO {target} VALUES {values}", tuple(chain.from_iterable(part))
        )


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """`count` new values of the table's integer primary key `id`, for rows the
    caller inserts with insert_rows (which returns no ids).

    On PostgreSQL they come from the column's sequence. SQLite has one writer
    at a time: its write lock is taken before the highest id is read, so nobody
    else can insert into the table before this transaction ends.
    """
    if count == 0:
        return []
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        return list(
            session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, count))
            )
        )
    # A write that changes nothing takes SQLite's write lock first (or fails as
    # any write would on a stale snapshot): from then on nobody else inserts.
    table_name = connection.dialect.identifier_preparer.format_table(table)
    connection.exec_driver_sql(f"UPDATE {table_name} SET id = id WHERE 0")
    highest = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) or 0
    return list(range(highest + 1, highest + 1 + count))


def _driver_rows(
    rows: Sequence[Sequence[Any]],
    convert: list[tuple[int, _Processor]],
    fixed: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    """The rows as the driver takes them: converted, the fixed values after."""
    if not convert:
        return [(*row, *fixed) for row in rows]
    out = []
    for row in rows:
        values = list(row)
        for index, process in convert:
            values[index] = process(values[index])
        out.append((*values, *fixed))
    return out


def _sqlite_variable_limit(connection: Connection) -> int:
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    return driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)


def _processor(column: Column[Any], dialect: Dialect) -> _Processor | None:
    return column.type.dialect_impl(dialect).bind_processor(dialect)


def _convert(column: Column[Any], dialect: Dialect, value: Any) -> Any:
    process = _processor(column, dialect)
    return value if process is None else process(value)


def encode(document: Any) -> str:
    """A JSON document as its text, for an `encoded` column: compact, and
    Chinese as itself rather than escaped (half the bytes to store)."""
    return _JSON(document)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
