"""Inspection outcomes of drawn enterprises: recorded, then published to the log.

A published outcome is public and never changes; it also enters the inspection
history, so later draws see the enterprise as inspected that month.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import reference as ref
from app.draws.models import Draw, Outcome
from app.draws.schemas import OutcomeCreate, OutcomeOut
from app.draws.service import DrawStateError, lock_draw
from app.draws.status import DrawStatus, OutcomeStep
from app.draws.units import units_of
from app.errors import Conflict, InvalidInput, NotFound
from app.history import record_change
from app.ledger import store as ledger
from app.ledger.kinds import EntryKind
from app.pools.inspection_writer import NewInspection, record_outcome_inspection
from app.pools.service import enterprise_by_uscc
from app.types import BEIJING, rfc3339, utcnow

OUTCOME_LABELS = {t.code: t.label for t in ref.OUTCOMES}


def outcome_out(draw: Draw, outcome: Outcome) -> OutcomeOut:
    """The API view of an outcome."""
    return OutcomeOut(
        draw=draw.public_id,
        unit=outcome.unit_key,
        uscc=outcome.uscc,
        outcome=outcome.outcome,
        outcome_label=OUTCOME_LABELS[outcome.outcome],
        inspected_on=outcome.inspected_on,
        note=outcome.note,
        recorded_by=outcome.recorded_by,
        recorded_at=outcome.recorded_at,
        published_at=outcome.published_at,
        log_index=outcome.log_index,
    )


def outcomes_of(session: Session, draw: Draw, *, published_only: bool) -> list[Outcome]:
    """A draw's outcomes, by enterprise code."""
    stmt = select(Outcome).where(Outcome.draw_id == draw.id).order_by(Outcome.id)
    if published_only:
        stmt = stmt.where(Outcome.published_at.is_not(None))
    return list(session.scalars(stmt))


def _check_inspection_date(draw: Draw, inspected_on: date) -> None:
    """An inspection of a drawn enterprise took place between the draw and today (Beijing)."""
    assert draw.seeded_at is not None
    drawn_on = draw.seeded_at.astimezone(BEIJING).date()
    today = utcnow().astimezone(BEIJING).date()
    if not drawn_on <= inspected_on <= today:
        raise InvalidInput(
            f"检查日期 {inspected_on} 须在抽查 {draw.public_id} 产生结果之日（{drawn_on}）"
            f"与今天（{today}，北京时间）之间",
            code="inspected_on_out_of_range",
        )


def record(session: Session, *, public_id: str, data: OutcomeCreate, actor: str) -> Outcome:
    """Record (or correct, while unpublished) the outcome for one drawn enterprise."""
    draw = lock_draw(session, public_id)
    if draw.status != DrawStatus.DONE:
        raise DrawStateError(f"抽查 {draw.public_id} 状态为 {draw.status}，没有可登记结果的企业")
    units = units_of(session, draw)
    code = data.uscc.upper()
    if code not in units:
        raise InvalidInput(f"企业 {code} 不在抽查 {draw.public_id} 的抽中名单中", code="not_drawn")
    _check_inspection_date(draw, data.inspected_on)
    outcome = session.scalars(
        select(Outcome).where(Outcome.draw_id == draw.id, Outcome.uscc == code)
    ).one_or_none()
    if outcome is not None and outcome.published_at is not None:
        raise Conflict(
            f"企业 {code} 的检查结果已于 {outcome.published_at:%Y-%m-%d} 公开，不能修改",
            code="outcome_published",
        )
    if outcome is None:
        outcome = Outcome(draw_id=draw.id, unit_key=units[code], uscc=code, recorded_by=actor)
        session.add(outcome)
    outcome.outcome = data.outcome
    outcome.inspected_on = data.inspected_on
    outcome.note = data.note
    outcome.recorded_by = actor
    outcome.recorded_at = utcnow()
    session.flush()
    record_change(
        session,
        entity="outcome",
        entity_id=outcome.id,
        action=OutcomeStep.RECORD,
        actor=actor,
        before=None,
        after={
            "uscc": code,
            "outcome": data.outcome,
            "inspected_on": data.inspected_on.isoformat(),
        },
    )
    if data.publish:
        publish(session, public_id=public_id, uscc=code, actor=actor)
    return outcome


def publish(session: Session, *, public_id: str, uscc: str, actor: str) -> Outcome:
    """Make one outcome public: an `inspection` entry of the log, and the history."""
    draw = lock_draw(session, public_id)
    outcome = session.scalars(
        select(Outcome).where(Outcome.draw_id == draw.id, Outcome.uscc == uscc.upper())
    ).one_or_none()
    if outcome is None:
        raise NotFound(f"抽查 {draw.public_id} 中尚未登记企业 {uscc} 的检查结果")
    session.refresh(outcome)
    if outcome.published_at is not None:
        return outcome  # publishing twice is the same act
    now = utcnow()
    outcome.published_at = now
    outcome.log_index = ledger.append(
        session,
        {
            "kind": EntryKind.INSPECTION,
            "at": rfc3339(now),
            "draw": draw.public_id,
            "unit": outcome.unit_key,
            "uscc": outcome.uscc,
            "outcome": outcome.outcome,
            "date": outcome.inspected_on.isoformat(),
        },
    )
    record_change(
        session,
        entity="outcome",
        entity_id=outcome.id,
        action=OutcomeStep.PUBLISH,
        actor=actor,
        before=None,
        after={"log_index": outcome.log_index},
    )
    enterprise = enterprise_by_uscc(session, outcome.uscc)
    source = f"市应急管理局双随机抽查 {draw.public_id}"
    # The visit joins the enterprise's inspection record through the one writer
    # of inspection records, with its history; a visit already there is kept as it is.
    record_outcome_inspection(
        session,
        new=NewInspection(
            enterprise.id,
            outcome.uscc,
            outcome.inspected_on,
            "city",
            source,
            OUTCOME_LABELS[outcome.outcome],
        ),
        actor=actor,
    )
    session.flush()
    return outcome
