"""REST routes of the inspection records and the reference vocabularies (the
enterprises' and inspectors' routes: app.pools.enterprise_routes, app.pools.inspector_routes)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from app import reference as ref
from app.access.policy import OPERATE, PUBLIC, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES
from app.idempotency import IDEMPOTENT
from app.pools import schemas, service
from app.pools.answers import inspection_out, page_of
from app.pools.models import Inspection
from app.routing import TransactionalRoute
from app.schemas import (
    MAX_PAGE_SIZE,
    InspectionKindCode,
    Page,
    ReferenceData,
)

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


# -- inspection history ------------------------------------------------------


class InspectionFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uscc: str | None = Field(default=None, max_length=18)
    kind: list[InspectionKindCode] = Field(default_factory=list, description="检查类型代码")
    date_from: date | None = None
    date_to: date | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@router.get(
    "/inspections", dependencies=[allow(STAFF_READ)], tags=["inspections"], summary="检查记录：查询"
)
def list_inspections(
    session: SessionDep, filters: Annotated[InspectionFilters, Query()]
) -> Page[schemas.InspectionOut]:
    enterprise_id = (
        service.enterprise_by_uscc(session, filters.uscc.strip().upper()).id
        if filters.uscc
        else None
    )
    stmt = service.inspection_query(
        enterprise_id=enterprise_id,
        kind=filters.kind,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    return page_of(
        session,
        stmt,
        order_by=Inspection.id,
        paging=filters,
        out=lambda i: inspection_out(session, i),
    )


@router.post(
    "/inspections",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["inspections"],
    summary="检查记录：登记",
)
def create_inspection(
    session: SessionDep, actor: ActorDep, body: schemas.InspectionCreate
) -> schemas.InspectionOut:
    return inspection_out(session, service.create_inspection(session, data=body, actor=actor))


# -- reference data ------------------------------------------------------------


@router.get(
    "/reference",
    dependencies=[allow(PUBLIC)],
    tags=["reference"],
    summary="代码表：县市区、行业、类别、状态、标签、单位",
    response_model=ReferenceData,
)
def reference_data() -> dict[str, object]:
    return {
        "counties": [
            {"code": c.code, "name": c.name, "full_name": c.full_name, "kind": c.kind}
            for c in ref.COUNTIES
        ],
        "sectors": [{"code": t.code, "label": t.label} for t in ref.SECTORS],
        "subtypes": [
            {"code": t.code, "label": t.label, "sector": sector}
            for sector, terms in ref.SUBTYPES.items()
            for t in terms
        ],
        "statuses": [{"code": t.code, "label": t.label} for t in ref.STATUSES],
        "risk_grades": [{"code": t.code, "label": t.label} for t in ref.RISK_GRADES],
        "tags": [{"code": t.code, "label": t.label} for t in ref.TAGS],
        "inspection_kinds": [{"code": t.code, "label": t.label} for t in ref.INSPECTION_KINDS],
        "units": [
            {"name": u.name, "kind": u.kind, "county_code": u.county_code}
            for u in ref.ORGANISATIONS
        ],
    }
