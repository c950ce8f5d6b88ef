"""Plans, and finding draws; the ceremony itself is app.draws.ceremony."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, load_only

from app.draws.models import Draw, Plan
from app.draws.schemas import PlanCreate, PlanUpdate
from app.draws.status import LIVE, DrawStep
from app.errors import Conflict, DomainError, NotFound
from app.history import record_change
from app.ledger import store as ledger
from app.types import utcnow


class QuotaRefused(DomainError):
    """The freeze refused: a quota asks for more units than the frame has (the
    algorithm's QuotaInfeasible, told in a clerk's words)."""

    status = 422
    code = "quota_infeasible"
    title = "抽取数量超过符合条件的企业数，未冻结"


class FrameRefused(DomainError):
    status = 422
    code = "frame_invalid"
    title = "抽查框架不合规，未冻结"


class DrawStateError(DomainError):
    status = 409
    code = "draw_state"
    title = "抽查当前状态不允许该操作"


# -- plans ---------------------------------------------------------------------


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    """The plan's fields as JSON."""
    return {
        "title": plan.title,
        "year": plan.year,
        "quarter": plan.quarter,
        "sector": plan.sector,
        "lead_unit": plan.lead_unit,
        "planned_month": plan.planned_month,
        "inspection_date": plan.inspection_date.isoformat() if plan.inspection_date else None,
        "template_key": plan.template_key,
        "spec": plan.spec,
    }


def create_plan(
    session: Session, *, data: PlanCreate, actor: str, template_key: str | None = None
) -> Plan:
    """A new draft plan."""
    plan = Plan(
        title=data.title,
        year=data.year,
        quarter=data.quarter,
        sector=data.sector,
        lead_unit=data.lead_unit,
        planned_month=data.planned_month,
        inspection_date=data.inspection_date,
        template_key=template_key,
        spec=data.spec.model_dump(mode="json"),
        created_by=actor,
    )
    session.add(plan)
    session.flush()
    record_change(
        session,
        entity="plan",
        entity_id=plan.id,
        action=DrawStep.CREATE,
        actor=actor,
        before=None,
        after=plan_snapshot(plan),
    )
    return plan


def get_plan(session: Session, plan_id: int) -> Plan:
    """The plan with this id."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"没有编号为 {plan_id} 的抽查计划")
    return plan


def update_plan(session: Session, *, plan: Plan, data: PlanUpdate, actor: str) -> None:
    """Edit a plan that has no live draw (the draw would no longer be its plan's)."""
    # The freeze takes the same lock: an edit and a freeze of one plan queue, never interleave.
    ledger.lock_head(session)
    session.refresh(plan)
    latest = draw_of_plan(session, plan.id)
    if latest is not None and latest.status in LIVE:
        raise Conflict(
            f"计划 {plan.id} 的抽查 {latest.public_id} 已冻结或已出结果，计划不能再修改；"
            f"如确须变更，须先公开撤销 {latest.public_id}，修改计划后以替代方式重新冻结",
            code="plan_has_live_draw",
        )
    if data.version is not None and data.version != plan.version:
        raise Conflict(
            f"计划已被他人修改（当前版本 {plan.version}），请刷新后重试", code="version_conflict"
        )
    before = plan_snapshot(plan)
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(plan, field, value)
    if data.spec is not None:
        plan.spec = data.spec.model_dump(mode="json")
    after = plan_snapshot(plan)
    if after != before:
        plan.version += 1
        plan.updated_at = utcnow()
        record_change(
            session,
            entity="plan",
            entity_id=plan.id,
            action=DrawStep.UPDATE,
            actor=actor,
            before=before,
            after=after,
        )
    session.flush()


# -- draws ---------------------------------------------------------------------


def get_draw(session: Session, public_id: str) -> Draw:
    """The draw with this public id."""
    draw = session.scalars(select(Draw).where(Draw.public_id == public_id)).one_or_none()
    if draw is None:
        raise NotFound(f"没有编号为 {public_id} 的抽查")
    return draw


def lock_draw(session: Session, public_id: str) -> Draw:
    """The draw, locked for this transaction, so concurrent steps on it queue up.

    The log head is locked first, then the draw: every writer takes them in
    this order, so two writers never wait for each other in a circle.
    """
    ledger.lock_head(session)
    draw = session.scalars(
        select(Draw).where(Draw.public_id == public_id).with_for_update()
    ).one_or_none()
    if draw is None:
        raise NotFound(f"没有编号为 {public_id} 的抽查")
    session.refresh(draw)
    return draw


def draw_of_plan(session: Session, plan_id: int) -> Draw | None:
    """The plan's latest draw: the head of its chain of replacements."""
    return session.scalars(
        select(Draw)
        .options(load_only(Draw.id, Draw.public_id, Draw.plan_id, Draw.status))
        .where(Draw.plan_id == plan_id)
        .order_by(Draw.id.desc())
        .limit(1)
    ).first()


def next_public_id(session: Session, year: int) -> str:
    prefix = f"HY-{year}-"
    count = session.scalar(select(func.count()).where(Draw.public_id.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:04d}"


def record_step(
    session: Session, draw: Draw, action: str, actor: str, after: dict[str, Any]
) -> None:
    """One step of a draw's ceremony in its history: who did what, when."""
    record_change(
        session,
        entity="draw",
        entity_id=draw.id,
        action=action,
        actor=actor,
        before=None,
        after=after,
    )
