"""The API views of directory records, and a page of them (for the directory routes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select

from app import reference as ref
from app.db import SessionDep
from app.pools import schemas, service
from app.pools.models import ConflictOfInterest, Enterprise, Inspection, Inspector
from app.schemas import (
    Page,
)

R = TypeVar("R")
Out = TypeVar("Out")


def enterprise_out(e: Enterprise) -> schemas.EnterpriseOut:
    """The API view of an enterprise."""
    return schemas.EnterpriseOut(
        id=e.id,
        uscc=e.uscc,
        name=e.name,
        county_code=e.county_code,
        county_name=ref.COUNTY_BY_CODE[e.county_code].name,
        sector=e.sector,
        subtype=e.subtype,
        status=e.status,
        risk_grade=e.risk_grade,
        key_supervision=e.key_supervision,
        tags=e.tags,
        pair_key=e.pair_key,
        address=e.address,
        created_at=e.created_at,
        updated_at=e.updated_at,
        retired_at=e.retired_at,
        retired_reason=e.retired_reason,
        version=e.version,
    )


def inspector_out(i: Inspector) -> schemas.InspectorOut:
    """The API view of an inspector."""
    return schemas.InspectorOut(
        id=i.id,
        name=i.name,
        cert_no=i.cert_no,
        cert_valid_from=i.cert_valid_from,
        cert_valid_to=i.cert_valid_to,
        organisation=i.organisation,
        county_code=i.county_code,
        specialties=list(i.specialties),
        active=i.active,
        phone=i.phone,
        created_at=i.created_at,
        updated_at=i.updated_at,
        retired_at=i.retired_at,
        version=i.version,
    )


def conflict_out(session: SessionDep, c: ConflictOfInterest) -> schemas.ConflictOut:
    """The API view of a recusal pair, naming both parties."""
    inspector = service.get_inspector(session, c.inspector_id)
    enterprise = service.get_enterprise(session, c.enterprise_id)
    return schemas.ConflictOut(
        id=c.id,
        inspector_id=inspector.id,
        cert_no=inspector.cert_no,
        inspector_name=inspector.name,
        enterprise_id=enterprise.id,
        uscc=enterprise.uscc,
        enterprise_name=enterprise.name,
        reason=c.reason,
        valid_from=c.valid_from,
        valid_to=c.valid_to,
        version=c.version,
    )


def inspection_out(session: SessionDep, i: Inspection) -> schemas.InspectionOut:
    """The API view of an inspection record."""
    enterprise = service.get_enterprise(session, i.enterprise_id)
    return schemas.InspectionOut(
        id=i.id,
        enterprise_id=enterprise.id,
        uscc=enterprise.uscc,
        enterprise_name=enterprise.name,
        inspected_on=i.inspected_on,
        kind=i.kind,
        source=i.source,
        note=i.note,
        created_at=i.created_at,
    )


class _Paging(Protocol):
    page: int
    page_size: int


def page_of(
    session: SessionDep,
    stmt: Select[R],
    *,
    order_by: Any,
    paging: _Paging,
    out: Callable[[R], Out],
) -> Page[Out]:
    """One page of a query's records, each as the API shows it."""
    items, total = service.paginate(
        session, stmt, order_by=order_by, page=paging.page, page_size=paging.page_size
    )
    return Page(
        items=[out(r) for r in items], total=total, page=paging.page, page_size=paging.page_size
    )
