"""REST routes of plans and draws: the ceremony, bundles, fairness."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from app import algorithm
from app.access.policy import OPERATE, PUBLIC, STAFF_READ, WITNESS, allow
from app.db import SessionDep
from app.deps import ActorDep, PersonDep
from app.draws import ceremony, outcomes, service, templates
from app.draws.answers import DrawBundle, DrawFairness, DrawOut, PlanPreview
from app.draws.beacon import Beacon
from app.draws.bundle import draw_bundle as build_bundle
from app.draws.bundle import replacement_of
from app.draws.listing import DrawFilters, drawn_units
from app.draws.models import Draw, Plan
from app.draws.schemas import (
    Annul,
    DiceReveal,
    FreezeRequest,
    OutcomeCreate,
    OutcomeOut,
    PlanCreate,
    PlanOut,
    PlanUpdate,
    Reschedule,
    SeedConfirmation,
    Withdrawal,
)
from app.draws.sources import source_named
from app.errors import PROBLEM_RESPONSES, InvalidInput, NotFound
from app.idempotency import IDEMPOTENT
from app.ledger import store as ledger
from app.pools.schemas import ChangeOut
from app.pools.service import history, paginate
from app.routing import TransactionalRoute
from app.schemas import MAX_PAGE_SIZE, Page, PageQuery, RecordId, SectorCode

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


def draw_out(session: SessionDep, draw: Draw) -> DrawOut:
    replaces = session.get(Draw, draw.replaces_id) if draw.replaces_id else None
    return DrawOut(
        public_id=draw.public_id,
        plan_id=draw.plan_id,
        title=str(draw.plan_snapshot["title"]),
        status=draw.status,
        frame_hash=draw.frame_hash,
        seed_source=draw.seed_source,
        announcement=draw.announcement,
        provenance=draw.provenance,
        seed=draw.seed,
        seed_detail=draw.seed_detail,
        awaiting_witness=draw.seed is None and draw.seed_entry is not None,
        awaiting_beacon=draw.seed is None and draw.dice is not None,
        result=json.loads(draw.result_jcs) if draw.result_jcs else None,
        result_hash=draw.result_hash,
        failure=draw.failure,
        annulment=draw.annulment,
        replaces=replaces.public_id if replaces else None,
        replaced_by=replacement_of(session, draw),
        frozen_by=draw.frozen_by,
        frozen_at=draw.frozen_at,
        seeded_at=draw.seeded_at,
        annulled_at=draw.annulled_at,
        log_entries=ledger.entries_of_draw(session, draw.public_id),
        units=drawn_units(session, draw),
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
    changes = history(session, entity="plan", entity_id=plan.id)
    return paging.of([ChangeOut.model_validate(c) for c in changes])


@router.get(
    "/draws/{public_id}/history",
    dependencies=[allow(STAFF_READ)],
    tags=["draws"],
    summary="抽查：经办历史（冻结、录入点数、见证确认、撤销、登记和公开检查结果，各由谁、何时）",
)
def draw_history(
    session: SessionDep, public_id: str, paging: Annotated[PageQuery, Query()]
) -> Page[ChangeOut]:
    draw = service.get_draw(session, public_id)
    changes = history(session, entity="draw", entity_id=draw.id)
    for outcome in outcomes.outcomes_of(session, draw, published_only=False):
        changes += history(session, entity="outcome", entity_id=outcome.id)
    return paging.of([ChangeOut.model_validate(c) for c in sorted(changes, key=lambda c: c.id)])


@router.get(
    "/plans/{plan_id}/preview",
    dependencies=[allow(STAFF_READ)],
    tags=["plans"],
    summary="抽查计划：预览框架（不冻结）",
    response_model=PlanPreview,
)
def preview_plan(session: SessionDep, plan_id: RecordId) -> JSONResponse:
    from app.draws.frames import build_frame

    frame, provenance = build_frame(session, service.get_plan(session, plan_id))
    try:
        algorithm.check_frame(frame)
        feasible, problem = True, None
    except algorithm.FrameError as exc:
        feasible, problem = False, str(exc)
    return JSONResponse(
        {
            "feasible": feasible,
            "problem": problem,
            "provenance": provenance,
            "units": {s["id"]: len(s["units"]) for s in frame["strata"]},
        }
    )


@router.post(
    "/plans/{plan_id}/freeze",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["draws"],
    summary="冻结：按当前名录生成抽查框架，公开其哈希（在任何种子产生之前）",
)
def freeze_plan(
    request: Request, session: SessionDep, actor: ActorDep, plan_id: RecordId, body: FreezeRequest
) -> DrawOut:
    plan = service.get_plan(session, plan_id)
    window = request.app.state.settings.ceremony_window
    draw = ceremony.freeze(session, plan=plan, request=body, actor=actor, window=window)
    return draw_out(session, draw)


# -- draws ---------------------------------------------------------------------


@router.get("/draws", dependencies=[allow(PUBLIC)], tags=["draws"], summary="抽查：查询")
def list_draws(session: SessionDep, filters: Annotated[DrawFilters, Query()]) -> Page[DrawOut]:
    items, total = paginate(
        session, filters.query(), order_by=Draw.id, page=filters.page, page_size=filters.page_size
    )
    return Page(
        items=[draw_out(session, d) for d in items],
        total=total,
        page=filters.page,
        page_size=filters.page_size,
    )


@router.get(
    "/draws/{public_id}", dependencies=[allow(PUBLIC)], tags=["draws"], summary="抽查：读取"
)
def read_draw(session: SessionDep, public_id: str) -> DrawOut:
    return draw_out(session, service.get_draw(session, public_id))


@router.post(
    "/draws/{public_id}/reschedule",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["draws"],
    summary="改期：在公告的摇号时间之前公开改期（记入公开日志）",
)
def reschedule(session: SessionDep, actor: ActorDep, public_id: str, body: Reschedule) -> DrawOut:
    return draw_out(
        session, ceremony.reschedule(session, public_id=public_id, data=body, actor=actor)
    )


@router.post(
    "/draws/{public_id}/seed",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["draws"],
    summary=(
        "揭晓种子：经办人员在公告的摇号时间内录入骰子点数（待见证人确认），"
        "或在约定轮次发布后取 drand 信标（dice+drand 须先确认点数）并计算结果"
    ),
)
def reveal_seed(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    public_id: str,
    body: Annotated[DiceReveal | Beacon | None, Body()] = None,
) -> DrawOut:
    if isinstance(body, DiceReveal):
        draw = ceremony.enter_digits(session, public_id=public_id, reveal=body, actor=actor)
        return draw_out(session, draw)
    draw = service.get_draw(session, public_id)
    source = source_named(draw.seed_source)
    if not source.uses_beacon:
        raise InvalidInput(
            "现场摇号须提交 digits（骰子点数，至少 20 位）和 witnesses（在场的公告见证人）"
        )
    beacon = body if isinstance(body, Beacon) else None
    draw = ceremony.take_beacon(session, public_id=public_id, beacon=beacon, actor=actor)
    return draw_out(session, draw)


@router.post(
    "/draws/{public_id}/seed/withdraw",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["draws"],
    summary="撤回录入：见证人确认前，经办人员撤回录入有误的骰子点数（写明理由，记入经办历史并公开计数）",
)
def withdraw_seed(
    session: SessionDep, actor: ActorDep, public_id: str, body: Withdrawal
) -> DrawOut:
    draw = ceremony.withdraw_digits(session, public_id=public_id, data=body, actor=actor)
    return draw_out(session, draw)


@router.post(
    "/draws/{public_id}/seed/confirm",
    dependencies=[allow(WITNESS), IDEMPOTENT],
    tags=["draws"],
    summary=(
        "见证人确认：公告并在场的见证人（X-Actor 写明本人姓名）再次录入骰子点数，"
        "一致时确定点数（dice 随即产生种子并计算结果；dice+drand 记入日志，待 drand 轮次）"
    ),
)
def confirm_seed(
    request: Request,
    session: SessionDep,
    person: PersonDep,
    public_id: str,
    body: SeedConfirmation,
) -> DrawOut:
    draw = ceremony.confirm_digits(session, public_id=public_id, confirmation=body, person=person)
    return draw_out(session, draw)


@router.post(
    "/draws/{public_id}/annul",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["draws"],
    summary="撤销抽查（公开、记入日志，不删除）",
)
def annul_draw(session: SessionDep, actor: ActorDep, public_id: str, body: Annul) -> DrawOut:
    return draw_out(session, ceremony.annul(session, public_id=public_id, data=body, actor=actor))


@router.get(
    "/draws/{public_id}/bundle",
    dependencies=[allow(PUBLIC)],
    tags=["draws"],
    summary="验证包：frame、seed、result 与日志条目及证明",
    response_model=DrawBundle,
)
def draw_bundle(request: Request, session: SessionDep, public_id: str) -> JSONResponse:
    draw = service.get_draw(session, public_id)
    # Served as built: the frame and the result are the very JSON the log committed.
    return JSONResponse(build_bundle(session, draw, request.app.state.signer))


@router.get(
    "/draws/{public_id}/fairness",
    dependencies=[allow(PUBLIC)],
    tags=["draws"],
    summary="公平性：每家企业被抽中的确切概率",
    response_model=DrawFairness,
)
def draw_fairness(session: SessionDep, public_id: str) -> JSONResponse:
    draw = service.get_draw(session, public_id)
    frame = json.loads(draw.frame_jcs)
    probabilities = algorithm.inclusion_probabilities(frame)
    strata = []
    for stratum in frame["strata"]:
        units = [
            {
                "key": u["key"],
                "county": u["attrs"].get("county"),
                "probability": f"{probabilities[u['key']].numerator}/{probabilities[u['key']].denominator}",
                "percent": _percent(probabilities[u["key"]]),
            }
            for u in stratum["units"]
        ]
        strata.append({"id": stratum["id"], "units": units})
    return JSONResponse({"draw": draw.public_id, "frame_hash": draw.frame_hash, "strata": strata})


def _percent(p: Any) -> str:
    # Display only: two decimals of a percentage, computed exactly then rounded half up.
    hundredths = (p.numerator * 10000 * 2 + p.denominator) // (2 * p.denominator)
    return f"{hundredths // 100}.{hundredths % 100:02d}%"


# -- inspection outcomes ---------------------------------------------------------


@router.get(
    "/draws/{public_id}/outcomes",
    dependencies=[allow(STAFF_READ)],
    tags=["outcomes"],
    summary="检查结果：查询（含未公开）",
)
def list_outcomes(
    session: SessionDep, public_id: str, paging: Annotated[PageQuery, Query()]
) -> Page[OutcomeOut]:
    draw = service.get_draw(session, public_id)
    found = outcomes.outcomes_of(session, draw, published_only=False)
    return paging.of([outcomes.outcome_out(draw, o) for o in found])


@router.post(
    "/draws/{public_id}/outcomes",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["outcomes"],
    summary="检查结果：登记（公开前可修改；publish=true 时同时公开）",
)
def record_outcome(
    session: SessionDep, actor: ActorDep, public_id: str, body: OutcomeCreate
) -> OutcomeOut:
    outcome = outcomes.record(session, public_id=public_id, data=body, actor=actor)
    return outcomes.outcome_out(service.get_draw(session, public_id), outcome)


@router.post(
    "/draws/{public_id}/outcomes/{uscc}/publish",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["outcomes"],
    summary="检查结果：公开（记入公开日志，此后不可修改）",
)
def publish_outcome(session: SessionDep, actor: ActorDep, public_id: str, uscc: str) -> OutcomeOut:
    outcome = outcomes.publish(session, public_id=public_id, uscc=uscc, actor=actor)
    return outcomes.outcome_out(service.get_draw(session, public_id), outcome)
