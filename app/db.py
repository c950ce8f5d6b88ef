"""Database plumbing: engine, declarative base, and the request's session.

The request's session commits once, after the route's response is rendered
(app.routing.TransactionalRoute), and is rolled back on any error; services
only flush. So a failed request leaves no partial state.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import MetaData, Select, create_engine, event, func, make_url, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so that Alembic migrations name and find them the
# same way on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers proceed while
    # a draw is written; the busy timeout makes writers queue instead of failing.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Connections per process. The application admits no more requests at once
# than this at work (app.limits.InFlight), so no request ever waits for one.
POOL_SIZE = 10
POOL_OVERFLOW = 10
MAX_CONNECTIONS = POOL_SIZE + POOL_OVERFLOW


def make_engine(url: str) -> Engine:
    """An engine for the URL, with SQLite made strict and safe for threads."""
    pool = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.startswith("sqlite"):
        if make_url(url).database in (None, "", ":memory:"):
            pool = {}  # one in-memory database per connection: SQLAlchemy picks its own pool
        engine = create_engine(url, connect_args={"check_same_thread": False}, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **pool)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def get_session(request: Request) -> Iterator[Session]:
    """The request's session; whatever the route class has not committed is rolled back."""
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    with factory() as session:
        request.state.session = session
        yield session


# scope="function": the session closes right after the route, before the
# response is sent, so no connection is held while a client reads slowly.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


T = TypeVar("T")


def paginate(
    session: Session, stmt: Select[T], *, order_by: Any, page: int, page_size: int
) -> tuple[list[T], int]:
    """One page of a query, with the total count of all pages; `order_by` is a
    column or a tuple of them."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    keys = order_by if isinstance(order_by, tuple) else (order_by,)
    items = session.scalars(
        stmt.order_by(*keys).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(items), total
