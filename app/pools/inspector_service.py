"""The inspector directory: create, read, update, list, retire, with history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Select, String, cast, or_, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.history import record_change
from app.pools import schemas
from app.pools.changes import check_version, inspector_snapshot, record_update
from app.pools.models import Inspector
from app.types import utcnow


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


def _inspector_values(data: schemas.InspectorFields, *, partial: bool = True) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=partial, exclude={"version", "cert_no"})
    if "county" in values:
        values["county_code"] = values.pop("county")
    return values


def create_inspector(
    session: Session, *, data: schemas.InspectorCreate, actor: str, import_id: int | None = None
) -> Inspector:
    """Add an inspector to the directory."""
    if find_inspector(session, data.cert_no) is not None:
        raise Conflict(f"执法证号 {data.cert_no} 已在名录库中", code="duplicate_cert_no")
    inspector = Inspector(cert_no=data.cert_no, **_inspector_values(data, partial=False))
    session.add(inspector)
    session.flush()
    record_change(
        session,
        entity="inspector",
        entity_id=inspector.id,
        action="create",
        actor=actor,
        before=None,
        after=inspector_snapshot(inspector),
        import_id=import_id,
    )
    return inspector


def update_inspector(
    session: Session,
    *,
    inspector: Inspector,
    data: schemas.InspectorFields,
    actor: str,
    version: int | None = None,
    import_id: int | None = None,
) -> bool:
    """Apply a partial update; returns whether anything changed."""
    check_version(inspector.version, version, f"执法人员 {inspector.cert_no}")
    before = inspector_snapshot(inspector)
    for field, value in _inspector_values(data).items():
        setattr(inspector, field, value)
    if inspector.cert_valid_to < inspector.cert_valid_from:
        raise InvalidInput("执法证有效期止早于有效期起")
    after = inspector_snapshot(inspector)
    return record_update(
        session,
        inspector,
        entity="inspector",
        before=before,
        after=after,
        actor=actor,
        import_id=import_id,
    )


def retire_inspector(session: Session, *, inspector: Inspector, reason: str, actor: str) -> None:
    """Take an inspector off duty for good; the record stays readable."""
    if inspector.retired_at is not None:
        raise Conflict(f"执法人员 {inspector.cert_no} 已于此前移出", code="already_retired")
    inspector.retired_at = utcnow()
    inspector.active = False
    inspector.version += 1
    record_change(
        session,
        entity="inspector",
        entity_id=inspector.id,
        action="retire",
        actor=actor,
        before=None,
        after={"reason": reason},
    )
    session.flush()


def inspector_query(
    *,
    unit: Sequence[str] = (),
    county: Sequence[str] = (),
    specialty: str | None = None,
    active: bool | None = None,
    valid_on: date | None = None,
    q: str | None = None,
    include_retired: bool = False,
) -> Select[Inspector]:
    """Inspectors matching every given filter."""
    stmt = select(Inspector)
    if unit:
        stmt = stmt.where(Inspector.unit.in_(unit))
    if county:
        stmt = stmt.where(Inspector.county_code.in_(county))
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
