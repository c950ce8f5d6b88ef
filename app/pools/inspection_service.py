"""Inspection records: what was inspected when, by whom; draws exclude recent ones.
Finding and listing them here; app.pools.inspection_writer writes them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.pools import schemas
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
