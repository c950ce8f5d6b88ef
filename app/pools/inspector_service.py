"""The inspector directory: finding and listing inspectors (app.pools.inspector_writer
writes them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.pools.models import Inspector


def get_inspector(session: Session, inspector_id: int) -> Inspector:
    """The inspector with this id."""
    inspector = session.get(Inspector, inspector_id)
    if inspector is None:
        raise NotFound(f"没有编号为 {inspector_id} 的执法人员")
    return inspector


def find_inspector(session: Session, cert_no: str) -> Inspector | None:
    """The inspector holding this certificate, if any."""
    return session.scalars(select(Inspector).where(Inspector.cert_no == cert_no)).one_or_none()


def inspector_by_cert(session: Session, cert_no: str) -> Inspector:
    """The inspector holding this certificate, or a clear 404."""
    inspector = find_inspector(session, cert_no)
    if inspector is None:
        raise NotFound(f"名录库中没有执法证号为 {cert_no} 的执法人员")
    return inspector


def inspector_query(
    *,
    organisation: Sequence[str] = (),
    county_code: Sequence[str] = (),
    specialty: str | None = None,
    active: bool | None = None,
    valid_on: date | None = None,
    q: str | None = None,
    include_retired: bool = False,
) -> Select[Inspector]:
    """Inspectors matching every given filter."""
    stmt = select(Inspector)
    if organisation:
        stmt = stmt.where(Inspector.organisation.in_(organisation))
    if county_code:
        stmt = stmt.where(Inspector.county_code.in_(county_code))
    if active is not None:
        stmt = stmt.where(Inspector.active.is_(active))
    if valid_on is not None:
        stmt = stmt.where(
            Inspector.cert_valid_from <= valid_on, Inspector.cert_valid_to >= valid_on
        )
    if specialty:
        # A JSON list: match the quoted code, portable across SQLite and PostgreSQL.
        stmt = stmt.where(cast(Inspector.specialties, String).like(f'%"{specialty}"%'))
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(Inspector.name.like(pattern), Inspector.cert_no.like(pattern)))
    if not include_retired:
        stmt = stmt.where(Inspector.retired_at.is_(None))
    return stmt
