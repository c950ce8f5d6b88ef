"""Who changed what, when: a before/after record of every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.types import UTCDateTime, utcnow

ACTOR_CHARS = 100


class Actor(str):
    """Who acted, as shown in records: "person（key name）", or the key's name alone.

    Services take and store it as the text it is; the API key it acted with
    travels along (`key_id`) and is stored in a column of its own, so that no
    claimed name can ever take the key's place in the record.
    """

    key_id: int | None
    person: str  # the person as claimed (X-Actor), alone: who confirms must be announced

    def __new__(cls, shown: str, key_id: int | None = None, person: str = "") -> Actor:
        actor = super().__new__(cls, shown)
        actor.key_id = key_id
        actor.person = person
        return actor


def actor_of(person: str, *, key_name: str, key_id: int | None) -> Actor:
    """The actor shown as "person（key name）"; the person is cut, never the key's name."""
    key_name = key_name[:ACTOR_CHARS]
    room = ACTOR_CHARS - len(key_name) - 2
    if person and room > 0:
        return Actor(f"{person[:room]}（{key_name}）", key_id, person)
    return Actor(key_name, key_id, person)


def actor_key_id(actor: str) -> int | None:
    """The API key an actor acted with (None for the server's own console)."""
    return actor.key_id if isinstance(actor, Actor) else None


@dataclass(frozen=True)
class Person:
    """Who acts: the history's "person（key name）", and the person as named alone."""

    actor: str
    name: str


class ChangeAction(StrEnum):
    """What a directory record's change record says was done; a feature's own
    steps (a draw's freeze, an outcome's publication) are its StrEnums."""

    CREATE = "create"
    UPDATE = "update"
    RETIRE = "retire"
    RESTORE = "restore"
    DEMO = "demo"  # the demo directory was loaded


class ChangeRecord(Base):
    """One change to one record of a directory (never updated, never deleted)."""

    __tablename__ = "change_records"
    __table_args__ = (Index("ix_change_records_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(ACTOR_CHARS))
    # The API key that made the change, whatever name the person claimed.
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def record_change(
    session: Session,
    *,
    entity: str,
    entity_id: int,
    action: str,
    actor: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    import_id: int | None = None,
) -> None:
    """Append one change record to the session."""
    session.add(
        ChangeRecord(
            entity=entity,
            entity_id=entity_id,
            action=action,
            actor=actor,
            actor_key_id=actor_key_id(actor),
            before=before,
            after=after,
            import_id=import_id,
        )
    )


def changes_of(session: Session, *, entity: str, entity_id: int) -> list[ChangeRecord]:
    """Every recorded change of one record, oldest first."""
    stmt = (
        select(ChangeRecord)
        .where(ChangeRecord.entity == entity, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
    )
    return list(session.scalars(stmt))
