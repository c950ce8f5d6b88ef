"""Who changed what, when: a before/after record of every change."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base
from app.types import UTCDateTime, utcnow


@dataclass(frozen=True)
class Person:
    """Who acts: the history's "person（key name）", and the person as named alone."""

    actor: str
    name: str


class ChangeRecord(Base):
    """One change to one record of a directory (never updated, never deleted)."""

    __tablename__ = "change_records"
    __table_args__ = (Index("ix_change_records_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(100))
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
            before=before,
            after=after,
            import_id=import_id,
        )
    )
