"""REST routes of inspection plans: list, create (also from the annual plans' templates),
read, change, history (the preview of a freeze and the freeze: app.draws.router)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app.access.policy import OPERATE, STAFF_READ, allow
from app.db import SessionDep, paginate
from app.deps import ActorDep
from app.draws import service, templates
from app.draws.models import Draw, Plan
from app.draws.schemas import (
    PlanCreate,
    PlanOut,
    PlanUpdate,
)
from app.errors import PROBLEM_RESPONSES, NotFound
from app.history import changes_of
from app.idempotency import IDEMPOTENT
from app.routing import TransactionalRoute
from app.schemas import MAX_PAGE_SIZE, ChangeOut, Page, PageQuery, RecordId, SectorCode

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


def plan_out(session: SessionDep, plan: Plan) -> PlanOut:
    draws = session.scalars(select(Draw.public_id).where(Draw.plan_id == plan.id).order_by(Draw.id))
    return PlanOut(
        id=plan.id,
        title=plan.title,
        year=plan.year,
        quarter=plan.quarter,
        sector=plan.sector,
        lead_unit=plan.lead_unit,
        planned_month=plan.planned_month,
        inspection_date=plan.inspection_date,
        template_key=plan.template_key,
        spec=plan.spec,
        created_by=plan.created_by,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
        version=plan.version,
        draws=list(draws),
    )


# -- plans ---------------------------------------------------------------------


class PlanFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int | None = Field(default=None, ge=2000, le=2100)
    quarter: int | None = Field(default=None, ge=1, le=4)
    sector: SectorCode | None = Field(default=None, description="行业领域代码")
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@router.get("/plans", dependencies=[allow(STAFF_READ)], tags=["plans"], summary="抽查计划：查询")
def list_plans(session: SessionDep, filters: Annotated[PlanFilters, Query()]) -> Page[PlanOut]:
    stmt = select(Plan)
    if filters.year is not None:
        stmt = stmt.where(Plan.year == filters.year)
    if filters.quarter is not None:
        stmt = stmt.where(Plan.quarter == filters.quarter)
    if filters.sector is not None:
        stmt = stmt.where(Plan.sector == filters.sector)
    items, total = paginate(
        session, stmt, order_by=Plan.id, page=filters.page, page_size=filters.page_size
    )
    return Page(
        items=[plan_out(session, p) for p in items],
        total=total,
        page=filters.page,
        page_size=filters.page_size,
    )


@router.post(
    "/plans",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["plans"],
    summary="抽查计划：新建",
)
def create_plan(session: SessionDep, actor: ActorDep, body: PlanCreate) -> PlanOut:
    return plan_out(session, service.create_plan(session, data=body, actor=actor))


class PlanTemplateOut(BaseModel):
    """A ready plan of the annual inspection plans."""

    key: str = Field(description="模板键，用于 POST /plans/from-template/{key}")
    title: str
    year: int
    quarter: int | None
    planned_month: str
    total: int | None = Field(description="计划抽取家数（按比例或每县抽取时为空，冻结时才知道）")


@router.get(
    "/plan-templates",
    dependencies=[allow(STAFF_READ)],
    tags=["plans"],
    summary="计划模板：衡阳 2024、2025 年度计划",
)
def list_templates(paging: Annotated[PageQuery, Query()]) -> Page[PlanTemplateOut]:
    return paging.of(
        [
            PlanTemplateOut(
                key=key,
                title=t.title,
                year=t.year,
                quarter=t.quarter,
                planned_month=t.planned_month,
                total=templates.planned_total(t),
            )
            for key, t in templates.TEMPLATES.items()
        ]
    )


@router.post(
    "/plans/from-template/{key}",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["plans"],
    summary="抽查计划：由模板新建",
)
def create_plan_from_template(session: SessionDep, actor: ActorDep, key: str) -> PlanOut:
    template = templates.TEMPLATES.get(key)
    if template is None:
        raise NotFound(f"没有名为 {key} 的计划模板；可用：{'、'.join(templates.TEMPLATES)}")
    plan = service.create_plan(session, data=template, actor=actor, template_key=key)
    return plan_out(session, plan)


@router.get(
    "/plans/{plan_id}", dependencies=[allow(STAFF_READ)], tags=["plans"], summary="抽查计划：读取"
)
def read_plan(session: SessionDep, plan_id: RecordId) -> PlanOut:
    return plan_out(session, service.get_plan(session, plan_id))


@router.patch(
    "/plans/{plan_id}",
    dependencies=[allow(OPERATE)],
    tags=["plans"],
    summary="抽查计划：修改（已冻结的抽查不受影响）",
)
def update_plan(
    session: SessionDep, actor: ActorDep, plan_id: RecordId, body: PlanUpdate
) -> PlanOut:
    plan = service.get_plan(session, plan_id)
    service.update_plan(session, plan=plan, data=body, actor=actor)
    return plan_out(session, plan)


@router.get(
    "/plans/{plan_id}/history",
    dependencies=[allow(STAFF_READ)],
    tags=["plans"],
    summary="抽查计划：变更历史（谁、何时、改了什么）",
)
def plan_history(
    session: SessionDep, plan_id: RecordId, paging: Annotated[PageQuery, Query()]
) -> Page[ChangeOut]:
    plan = service.get_plan(session, plan_id)
    changes = changes_of(session, entity="plan", entity_id=plan.id)
    return paging.of([ChangeOut.model_validate(c) for c in changes])
