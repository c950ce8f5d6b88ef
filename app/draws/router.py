"""REST routes of draws: the ceremony, history, bundles, fairness, outcomes (the plans'
routes: app.draws.plan_routes)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, status
from fastapi.responses import JSONResponse

from app import algorithm
from app.access.policy import OPERATE, PUBLIC, STAFF_READ, WITNESS, allow
from app.db import SessionDep, paginate
from app.deps import ActorDep, PersonDep
from app.draws import ceremony, outcomes, service
from app.draws.answers import DrawBundle, DrawFairness, DrawOut, PlanPreview
from app.draws.beacon import Beacon
from app.draws.bundle import draw_bundle as build_bundle
from app.draws.listing import DrawFilters, Related, related
from app.draws.models import Draw
from app.draws.schemas import (
    Annul,
    DiceReveal,
    FreezeRequest,
    OutcomeCreate,
    OutcomeOut,
    Reschedule,
    SeedConfirmation,
    Withdrawal,
)
from app.errors import PROBLEM_RESPONSES
from app.history import changes_of
from app.idempotency import IDEMPOTENT
from app.routing import TransactionalRoute
from app.schemas import ChangeOut, Page, PageQuery, RecordId

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


def draw_out(session: SessionDep, draw: Draw, known: Related | None = None) -> DrawOut:
    """A draw's answer; `known` holds what a page of draws read for all of them at once."""
    replaces, replaced_by, log_entries, units = (known or related(session, [draw])).of(draw)
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
        replaces=replaces,
        replaced_by=replaced_by,
        frozen_by=draw.frozen_by,
        frozen_at=draw.frozen_at,
        seeded_at=draw.seeded_at,
        annulled_at=draw.annulled_at,
        log_entries=log_entries,
        units=units,
    )


# -- a draw's history; the preview of a freeze, and the freeze ---------------


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
    changes = changes_of(session, entity="draw", entity_id=draw.id)
    for outcome in outcomes.outcomes_of(session, draw, published_only=False):
        changes += changes_of(session, entity="outcome", entity_id=outcome.id)
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
    known = related(session, items)
    return Page(
        items=[draw_out(session, d, known) for d in items],
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
    draw = ceremony.reveal_seed(session, public_id=public_id, body=body, actor=actor)
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
