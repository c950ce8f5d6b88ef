"""What every directory record's writer shares: the fields a snapshot holds, the
snapshot itself, the version check, the recorded update and retirement, and the
batch insert of new records with their "create" history records."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Protocol, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.bulk import insert_rows, next_ids
from app.errors import Conflict
from app.history import ChangeAction, ChangeRecord, actor_key_id, record_change
from app.pools.models import ConflictOfInterest, Enterprise, Inspector
from app.types import utcnow

# The attributes a record's history snapshot holds. The snapshot names each by
# its column (an inspector's organisation is "unit"), as every stored one does.
ENTERPRISE_FIELDS = (
    "name",
    "county_code",
    "sector",
    "subtype",
    "status",
    "risk_grade",
    "key_supervision",
    "tags",
    "pair_key",
    "address",
)
INSPECTOR_FIELDS = (
    "name",
    "cert_valid_from",
    "cert_valid_to",
    "organisation",
    "county_code",
    "specialties",
    "active",
    "phone",
)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def snapshot(
    record: Enterprise | Inspector | ConflictOfInterest, fields: Sequence[str]
) -> dict[str, Any]:
    """The record's fields as JSON, for history."""
    return {column_name(type(record), f): _jsonable(getattr(record, f)) for f in fields}


def column_name(
    record_type: type[Enterprise | Inspector | ConflictOfInterest], attribute: str
) -> str:
    """An attribute's name in history snapshots: its column's (an enterprise's
    tags, kept in their own table, keep their own)."""
    columns = record_type.__mapper__.columns
    return columns[attribute].name if attribute in columns else attribute


def enterprise_snapshot(e: Enterprise) -> dict[str, Any]:
    """An enterprise's fields as JSON, with its code."""
    return {"uscc": e.uscc} | snapshot(e, ENTERPRISE_FIELDS)


def inspector_snapshot(i: Inspector) -> dict[str, Any]:
    """An inspector's fields as JSON, with the certificate number."""
    return {"cert_no": i.cert_no} | snapshot(i, INSPECTOR_FIELDS)


def check_version(current: int, given: int | None, what: str) -> None:
    if given is not None and given != current:
        raise Conflict(
            f"{what}已被他人修改（当前版本 {current}，提交的版本 {given}），请刷新后重试",
            code="version_conflict",
        )


def record_update(
    session: Session,
    record: Enterprise | Inspector | ConflictOfInterest,
    *,
    entity: str,
    before: dict[str, Any],
    after: dict[str, Any],
    actor: str,
    import_id: int | None = None,
) -> bool:
    """Bump the record's version and keep the change in history, if there is one."""
    if after == before:
        return False
    record.version += 1
    record.updated_at = utcnow()
    session.flush()
    record_change(
        session,
        entity=entity,
        entity_id=record.id,
        action=ChangeAction.UPDATE,
        actor=actor,
        before=before,
        after=after,
        import_id=import_id,
    )
    return True


def record_retirement(
    session: Session, record: Enterprise | Inspector, *, entity: str, reason: str, actor: str
) -> None:
    """Mark the record retired now, bump its version and keep the reason in history."""
    record.retired_at = utcnow()
    record.version += 1
    record_change(
        session,
        entity=entity,
        entity_id=record.id,
        action=ChangeAction.RETIRE,
        actor=actor,
        before=None,
        after={"reason": reason},
    )
    session.flush()


class NewRecord(Protocol):
    """A new record's values, as its writer stores them."""

    def row(self) -> tuple[Any, ...]: ...

    def document(self) -> str:
        """Its history snapshot as JSON text, as `app.bulk.encode` writes it."""
        ...


_RECORDS = cast(Table, ChangeRecord.__table__)


def insert_created(
    session: Session,
    table: Table,
    columns: Sequence[str],
    new: Sequence[NewRecord],
    *,
    entity: str,
    actor: str,
    import_id: int | None,
    at: datetime,
    same: dict[str, Any],
    encoded: frozenset[str] = frozenset(),
) -> list[int]:
    """Write new records (their `columns`, and `same` in each) and one "create" history
    record each, straight through the driver (app.bulk); their ids, in order.
    `encoded` names columns whose values the driver takes as they are."""
    session.flush()  # the ORM's pending writes go first, as they would in a flush
    ids = next_ids(session, table, len(new))
    insert_rows(
        session,
        table,
        ("id", *columns),
        [(id_, *record.row()) for id_, record in zip(ids, new, strict=True)],
        encoded=encoded,
        same=same,
    )
    insert_rows(
        session,
        _RECORDS,
        ("entity_id", "after"),
        [(id_, record.document()) for id_, record in zip(ids, new, strict=True)],
        encoded={"after"},
        same={
            "entity": entity,
            "action": ChangeAction.CREATE,
            "actor": actor,
            "actor_key_id": actor_key_id(actor),
            "at": at,
            "import_id": import_id,
            "before": None,
        },
    )
    return ids
