"""Bulk inserts (app.bulk): what goes in through the driver reads back through
the ORM exactly as if the ORM had written it, on both databases."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone
from typing import cast

import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import bulk
from app.history import ChangeRecord, record_change
from app.pools.importing import start_batch

RECORDS = cast(Table, ChangeRecord.__table__)


def test_rows_read_back_as_the_orm_writes_them(
    session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "SQLITE_ROWS_PER_STATEMENT", 3)  # several statements on SQLite
    at = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=timezone(timedelta(hours=8)))
    documents = [{"名称": f"企业{n}", "n": n, "ok": n % 2 == 0, "tags": ["a"]} for n in range(10)]
    with session_factory() as session:
        batch_id = start_batch(
            session, target="enterprises", filename="x.csv", file=io.BytesIO(), actor="测试"
        ).id
        ids = bulk.next_ids(session, RECORDS, len(documents))
        bulk.insert_rows(
            session,
            RECORDS,
            ("id", "entity_id", "after"),
            [(id_, n, doc) for n, (id_, doc) in enumerate(zip(ids, documents, strict=True))],
            same={
                "entity": "enterprise",
                "action": "create",
                "actor": "导入（测试）",
                "at": at,
                "import_id": batch_id,
                "before": None,
            },
        )
        # the next id the database gives is past the ones taken
        record_change(
            session,
            entity="enterprise",
            entity_id=99,
            action="update",
            actor="x",
            before={"a": 1},
            after=None,
        )
        session.commit()
    with session_factory() as session:
        stored = session.scalars(select(ChangeRecord).order_by(ChangeRecord.id)).all()
    assert [r.id for r in stored[:10]] == ids
    assert stored[10].id > max(ids)
    assert [r.after for r in stored[:10]] == documents
    assert {(r.entity, r.action, r.actor, r.import_id, r.before) for r in stored[:10]} == {
        ("enterprise", "create", "导入（测试）", batch_id, None)
    }
    assert {r.at for r in stored[:10]} == {at.astimezone(UTC)}
    assert stored[0].at.tzinfo is not None


def test_a_refused_row_raises_what_sqlalchemy_raises(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        (id_,) = bulk.next_ids(session, RECORDS, 1)
        row = (id_, 1, "enterprise", "create", "x", datetime.now(UTC))
        columns = ("id", "entity_id", "entity", "action", "actor", "at")
        bulk.insert_rows(session, RECORDS, columns, [row])
        with pytest.raises(IntegrityError):
            bulk.insert_rows(session, RECORDS, columns, [row])
        session.rollback()


def test_nothing_to_insert_is_no_statement(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        bulk.insert_rows(session, RECORDS, ("id",), [])
        assert bulk.next_ids(session, RECORDS, 0) == []
        assert session.scalar(select(func.count()).select_from(ChangeRecord)) == 0
