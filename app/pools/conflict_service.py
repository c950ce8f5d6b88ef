"""Recusal pairs (回避): recorded, changed, listed, never deleted."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.history import ChangeAction, record_change
from app.pools import schemas
from app.pools.changes import check_version, record_update, snapshot
from app.pools.enterprise_lookup import enterprise_by_uscc, get_enterprise
from app.pools.inspector_service import get_inspector, inspector_by_cert
from app.pools.models import ConflictOfInterest


def create_conflict(
    session: Session, *, data: schemas.ConflictCreate, actor: str
) -> ConflictOfInterest:
    """Record a recusal pair."""
    inspector = (
        get_inspector(session, data.inspector_id)
        if data.inspector_id is not None
        else inspector_by_cert(session, str(data.cert_no))
    )
    enterprise = (
        get_enterprise(session, data.enterprise_id)
        if data.enterprise_id is not None
        else enterprise_by_uscc(session, str(data.uscc))
    )
    existing = session.scalars(
        select(ConflictOfInterest).where(
            ConflictOfInterest.inspector_id == inspector.id,
            ConflictOfInterest.enterprise_id == enterprise.id,
            ConflictOfInterest.valid_from == data.valid_from,
        )
    ).one_or_none()
    if existing is not None:
        raise Conflict(
            f"执法人员 {inspector.cert_no} 与企业 {enterprise.uscc} 自 {data.valid_from} 起的回避已登记",
            code="duplicate_conflict",
        )
    conflict = ConflictOfInterest(
        inspector_id=inspector.id,
        enterprise_id=enterprise.id,
        reason=data.reason,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
    )
    session.add(conflict)
    session.flush()
    record_change(
        session,
        entity="conflict",
        entity_id=conflict.id,
        action=ChangeAction.CREATE,
        actor=actor,
        before=None,
        after=conflict_snapshot(conflict),
    )
    return conflict


CONFLICT_FIELDS = ("inspector_id", "enterprise_id", "reason", "valid_from", "valid_to")


def conflict_snapshot(c: ConflictOfInterest) -> dict[str, Any]:
    """A conflict's fields as JSON."""
    return snapshot(c, CONFLICT_FIELDS)


def get_conflict(session: Session, conflict_id: int) -> ConflictOfInterest:
    """The recusal pair with this id."""
    conflict = session.get(ConflictOfInterest, conflict_id)
    if conflict is None:
        raise NotFound(f"没有编号为 {conflict_id} 的回避记录")
    return conflict


def update_conflict(
    session: Session, *, conflict: ConflictOfInterest, data: schemas.ConflictUpdate, actor: str
) -> bool:
    """Change a recusal's reason or end date (it is never deleted)."""
    check_version(conflict.version, data.version, f"回避记录 {conflict.id}")
    before = conflict_snapshot(conflict)
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(conflict, field, value)
    if conflict.valid_to is not None and conflict.valid_to < conflict.valid_from:
        raise InvalidInput("回避结束日期早于开始日期")
    after = conflict_snapshot(conflict)
    return record_update(
        session, conflict, entity="conflict", before=before, after=after, actor=actor
    )


def conflict_query(
    *,
    inspector_id: int | None = None,
    enterprise_id: int | None = None,
    active_on: date | None = None,
) -> Select[ConflictOfInterest]:
    """Recusal pairs matching the filters."""
    stmt = select(ConflictOfInterest)
    if inspector_id is not None:
        stmt = stmt.where(ConflictOfInterest.inspector_id == inspector_id)
    if enterprise_id is not None:
        stmt = stmt.where(ConflictOfInterest.enterprise_id == enterprise_id)
    if active_on is not None:
        stmt = stmt.where(
            ConflictOfInterest.valid_from <= active_on,
            or_(ConflictOfInterest.valid_to.is_(None), ConflictOfInterest.valid_to >= active_on),
        )
    return stmt
