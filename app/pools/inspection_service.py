"""Inspection records: what was inspected when, by whom; draws exclude recent ones."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.errors import Conflict
from app.history import record_change
from app.pools import schemas
from app.pools.enterprise_lookup import enterprise_by_uscc
from app.pools.models import Inspection


def find_inspection(
    session: Session, *, enterprise_id: int, data: schemas.InspectionCreate
) -> Inspection | None:
    """The same visit already on record, if any."""
    return session.scalars(
        select(Inspection).where(
            Inspection.enterprise_id == enterprise_id,
            Inspection.inspected_on == data.inspected_on,
            Inspection.kind == data.kind,
            Inspection.source == data.source,
        )
    ).one_or_none()


def create_inspection(
    session: Session, *, data: schemas.InspectionCreate, actor: str, import_id: int | None = None
) -> Inspection:
    """Record one inspection of an enterprise."""
    enterprise = enterprise_by_uscc(session, data.uscc)
    if find_inspection(session, enterprise_id=enterprise.id, data=data) is not None:
        raise Conflict(
            f"{data.source} 于 {data.inspected_on} 对 {data.uscc} 的检查已登记",
            code="duplicate_inspection",
        )
    inspection = Inspection(
        enterprise_id=enterprise.id,
        inspected_on=data.inspected_on,
        kind=data.kind,
        source=data.source,
        note=data.note,
    )
    session.add(inspection)
    session.flush()
    record_change(
        session,
        entity="inspection",
        entity_id=inspection.id,
        action="create",
        actor=actor,
        before=None,
        after=data.model_dump(mode="json"),
        import_id=import_id,
    )
    return inspection


def inspection_query(
    *,
    enterprise_id: int | None = None,
    kind: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select[Inspection]:
    """Inspections matching the filters."""
    stmt = select(Inspection)
    if enterprise_id is not None:
        stmt = stmt.where(Inspection.enterprise_id == enterprise_id)
    if kind:
        stmt = stmt.where(Inspection.kind.in_(kind))
    if date_from is not None:
        stmt = stmt.where(Inspection.inspected_on >= date_from)
    if date_to is not None:
        stmt = stmt.where(Inspection.inspected_on <= date_to)
    return stmt
