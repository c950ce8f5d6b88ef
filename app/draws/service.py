"""The ceremony of one draw: freeze (commit) → seed → result, and annulment.

No draw is ever redone or edited. Each step writes its row changes and its
public log entry in the same transaction, so both happen or neither does.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import algorithm
from app import reference as ref
from app.draws import drand
from app.draws.frames import build_frame
from app.draws.models import Draw, Plan
from app.draws.schemas import (
    Annul,
    DiceAnnouncement,
    DiceReveal,
    DrandAnnouncement,
    DrandReveal,
    PlanCreate,
    PlanUpdate,
    SeedConfirmation,
)
from app.errors import Conflict, DomainError, InvalidInput, NotFound
from app.history import record_change
from app.ledger import store as ledger
from app.types import utcnow


class QuotaInfeasible(DomainError):
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


_EXCLUSION_NAMES = {
    "inspected_in_month": "当月已有检查",
    "key_enforcement": "列入重点执法",
    "key_enforcement_counties": "位于重点执法企业所在县市区",
    "inspected_this_cycle": "本轮已检查",
}


def rfc3339(moment: datetime) -> str:
    """UTC, whole seconds, as log entries carry time."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


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
        action="create",
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
    """Edit a plan. Draws already frozen keep the plan as it was then."""
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
            action="update",
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


def _next_public_id(session: Session, year: int) -> str:
    prefix = f"HY-{year}-"
    count = session.scalar(select(func.count()).where(Draw.public_id.like(f"{prefix}%"))) or 0
    return f"{prefix}{count + 1:04d}"


def _infeasible_message(exc: algorithm.QuotaInfeasible, provenance: dict[str, Any]) -> str:
    prov = next((p for p in provenance["strata"] if p["id"] == exc.stratum), None)
    label = f"分层“{prov['label']}”（{exc.stratum}）" if prov else f"分层 {exc.stratum}"
    if exc.what == "groups":
        return f"{label}：计划抽取 {exc.asked} 个县市区，但只有 {exc.available} 个县市区有符合条件的企业"
    where = f"{exc.group}：" if exc.group else ""
    parts = [f"{label}{where}符合条件 {exc.available} 家，计划抽取 {exc.asked} 家"]
    if prov:
        parts.append(f"名录中匹配 {prov['matched']} 家")
        removed = [f"{_EXCLUSION_NAMES.get(k, k)} {v} 家" for k, v in prov["excluded"].items()]
        if removed:
            parts.append("已排除：" + "，".join(removed))
    return "；".join(parts) + "。请调整抽取数量或排除规则后再冻结。"


def _check(frame: dict[str, Any], provenance: dict[str, Any]) -> None:
    try:
        algorithm.check_frame(frame)
    except algorithm.QuotaInfeasible as exc:
        raise QuotaInfeasible(_infeasible_message(exc, provenance)) from exc
    except algorithm.TeamIncomplete as exc:
        raise FrameRefused(f"无法组成完整的检查组：{exc}", code="team_infeasible") from exc
    except algorithm.FrameError as exc:
        raise FrameRefused(f"抽查框架不合规：{exc}") from exc


def freeze(
    session: Session,
    *,
    plan: Plan,
    announcement: DiceAnnouncement | DrandAnnouncement,
    actor: str,
    replaces: str | None = None,
) -> Draw:
    """Build the frame from the directories now, check it, commit to it in the log."""
    ledger.lock_head(session)
    replaced = None
    if replaces is not None:
        replaced = get_draw(session, replaces)
        if replaced.status != "annulled":
            raise DrawStateError(f"抽查 {replaces} 未撤销，不能被替代；请先公开撤销")
        # One live replacement at a time: two would be a second try at the same draw.
        successor = session.scalars(
            select(Draw.public_id).where(Draw.replaces_id == replaced.id, Draw.status != "annulled")
        ).first()
        if successor is not None:
            raise Conflict(
                f"抽查 {replaces} 已由 {successor} 替代；如需再替代，须先撤销 {successor}",
                code="already_replaced",
            )
    frame, provenance = build_frame(session, plan)
    _check(frame, provenance)
    frame_bytes = algorithm.jcs(frame)
    frame_hash = algorithm.sha256_hex(frame_bytes)
    # One frame, one live draw: the same frame again only as the public
    # replacement of an annulled draw, never as a quiet second try.
    earlier = session.scalars(select(Draw).where(Draw.frame_hash == frame_hash)).all()
    live = [d.public_id for d in earlier if d.status != "annulled"]
    if live or (earlier and replaced is None):
        raise Conflict(
            f"与已冻结的抽查 {'、'.join(live or [d.public_id for d in earlier])} 的框架完全相同；"
            "同一框架只能抽一次，撤销后须以“替代”方式重新冻结",
            code="frame_already_committed",
        )
    now = utcnow()
    announced = _announce(announcement, now)
    draw = Draw(
        public_id=_next_public_id(session, plan.year),
        plan_id=plan.id,
        plan_snapshot=plan_snapshot(plan),
        status="frozen",
        frame_jcs=frame_bytes.decode(),
        frame_hash=frame_hash,
        provenance=provenance,
        seed_source=announcement.source,
        announcement=announced,
        replaces_id=replaced.id if replaced else None,
        frozen_by=actor,
        frozen_at=now,
    )
    session.add(draw)
    session.flush()
    entry: dict[str, Any] = {
        "kind": "commitment",
        "at": rfc3339(now),
        "draw": draw.public_id,
        "frame_hash": frame_hash,
        "plan": {
            "title": plan.title,
            "year": plan.year,
            "quarter": plan.quarter,
            "planned_month": plan.planned_month,
        },
        "seed_source": announced,
    }
    if replaced is not None:
        entry["replaces"] = replaced.public_id
    ledger.append(session, entry)
    _record(session, draw, "freeze", actor, {"frame_hash": frame_hash, "seed_source": announced})
    return draw


def _record(session: Session, draw: Draw, action: str, actor: str, after: dict[str, Any]) -> None:
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


# Clocks of the clerk's computer and the server may differ by a few minutes.
CEREMONY_CLOCK_TOLERANCE = timedelta(minutes=5)


def _announce(announcement: DiceAnnouncement | DrandAnnouncement, now: datetime) -> dict[str, Any]:
    if isinstance(announcement, DiceAnnouncement):
        # The digits must not exist before the commitment: a ceremony that
        # already took place cannot seed a frame frozen now.
        if announcement.ceremony_at < now - CEREMONY_CLOCK_TOLERANCE:
            raise InvalidInput(
                f"摇号仪式时间 {rfc3339(announcement.ceremony_at)} 早于冻结时间 {rfc3339(now)}："
                "随机种子必须在冻结（公开承诺）之后产生，请填写仪式的实际时间",
                code="ceremony_before_commitment",
            )
        return {
            "source": "dice",
            "ceremony_at": rfc3339(announcement.ceremony_at),
            "witnesses": announcement.witnesses,
        }
    round_ = drand.round_after(now, announcement.delay_seconds)
    return {
        "source": "drand",
        "chain": drand.QUICKNET_CHAIN_HASH,
        "round": round_,
        "round_time": rfc3339(drand.round_time(round_)),
    }


def enter_dice_digits(session: Session, *, public_id: str, reveal: DiceReveal, actor: str) -> Draw:
    """The operator enters the ceremony's digits; they count once a witness confirms them.

    Only a hash of the digits is kept until then, so the entry cannot be read
    back and copied by the confirming witness.
    """
    draw = _lock_dice_draw(session, public_id)
    seed = algorithm.make_seed("dice", reveal.digits, draw.frame_hash)
    if draw.seed is not None:
        return _same_seed_or_conflict(draw, seed)
    _require_frozen(draw)
    now = utcnow()
    draw.seed_entry = {
        "digits_sha256": _digits_hash(reveal.digits),
        "witnesses": reveal.witnesses,
        "entered_by": actor,
        "entered_at": rfc3339(now),
    }
    _record(session, draw, "seed_entered", actor, {"witnesses": reveal.witnesses})
    session.flush()
    return draw


def confirm_dice_digits(
    session: Session, *, public_id: str, confirmation: SeedConfirmation, actor: str
) -> Draw:
    """A witness enters the digits again; if both entries agree: the seed, then the result."""
    draw = _lock_dice_draw(session, public_id)
    seed = algorithm.make_seed("dice", confirmation.digits, draw.frame_hash)
    if draw.seed is not None:
        return _same_seed_or_conflict(draw, seed)
    _require_frozen(draw)
    entry = draw.seed_entry
    if entry is None:
        raise DrawStateError(
            f"抽查 {public_id} 尚未由经办人员录入骰子点数，见证人无可确认", code="no_seed_entry"
        )
    if entry["digits_sha256"] != _digits_hash(confirmation.digits):
        raise DrawStateError(
            f"见证人录入的点数与经办人员 {entry['entered_by']} 录入的不一致，未产生种子；"
            "请对照现场记录核对，由经办人员重新录入或见证人重新确认",
            code="seed_mismatch",
        )
    witnesses = list(entry["witnesses"])
    detail = {
        "digits": confirmation.digits,
        "witnesses": witnesses,
        "entered_by": entry["entered_by"],
        "confirmed_by": actor,
    }
    _record(session, draw, "seed_confirmed", actor, {"seed": seed})
    return _seed_and_run(session, draw, seed, detail, log_extra={"witnesses": witnesses})


def reveal_dice(session: Session, *, public_id: str, reveal: DiceReveal, actor: str) -> Draw:
    """Enter and confirm the digits at once: for the server's own console only."""
    enter_dice_digits(session, public_id=public_id, reveal=reveal, actor=actor)
    return confirm_dice_digits(
        session,
        public_id=public_id,
        confirmation=SeedConfirmation(digits=reveal.digits),
        actor=actor,
    )


def _digits_hash(digits: str) -> str:
    return hashlib.sha256(digits.encode()).hexdigest()


def _lock_dice_draw(session: Session, public_id: str) -> Draw:
    draw = lock_draw(session, public_id)
    if draw.seed_source != "dice":
        raise DrawStateError(f"抽查 {public_id} 约定使用 drand 随机信标，不能录入骰子点数")
    return draw


def reveal_drand(
    session: Session, *, public_id: str, beacon: DrandReveal | None, actor: str
) -> Draw:
    """Take the announced drand round (supplied, or fetched now), verify it, run the draw."""
    draw = lock_draw(session, public_id)
    if draw.seed_source != "drand":
        raise DrawStateError(f"抽查 {public_id} 约定使用现场骰子，不能使用 drand")
    round_ = int(draw.announcement["round"])
    if beacon is None:
        beacon = drand.fetch(round_)
    if beacon.round != round_:
        raise InvalidInput(f"须使用冻结时约定的第 {round_} 轮，收到第 {beacon.round} 轮")
    drand.verify(beacon)
    value = f"quicknet:{beacon.round}:{beacon.randomness}"
    seed = algorithm.make_seed("drand", value, draw.frame_hash)
    if draw.seed is not None:
        return _same_seed_or_conflict(draw, seed)
    _require_frozen(draw)
    detail = beacon.model_dump() | {"entered_by": actor}
    _record(session, draw, "seed_drand", actor, {"seed": seed, "round": beacon.round})
    return _seed_and_run(session, draw, seed, detail, log_extra={"beacon": beacon.model_dump()})


def _require_frozen(draw: Draw) -> None:
    if draw.status != "frozen":
        raise DrawStateError(f"抽查 {draw.public_id} 状态为 {draw.status}，不能再产生种子")


def _same_seed_or_conflict(draw: Draw, seed: str) -> Draw:
    # Revealing twice is idempotent; a different seed for a seeded draw never is.
    if draw.seed == seed:
        return draw
    raise DrawStateError(
        f"抽查 {draw.public_id} 已于 {draw.seeded_at} 产生种子，不能更改或重抽",
        code="already_seeded",
    )


def _seed_and_run(
    session: Session, draw: Draw, seed: str, detail: dict[str, Any], log_extra: dict[str, Any]
) -> Draw:
    now = utcnow()
    draw.seed = seed
    draw.seed_detail = detail
    draw.seeded_at = now
    ledger.append(
        session,
        {"kind": "seed", "at": rfc3339(now), "draw": draw.public_id, "seed": seed} | log_extra,
    )
    frame = json.loads(draw.frame_jcs)
    try:
        # The frame was read from the committed bytes, whose hash is draw.frame_hash.
        result = algorithm.draw(frame, seed, committed_hash=draw.frame_hash)
    except algorithm.FrameError as exc:
        draw.status = "failed"
        draw.failure = {"error": exc.code, "details": _jsonable(exc.details()), "message": str(exc)}
        ledger.append(
            session,
            {"kind": "failure", "at": rfc3339(utcnow()), "draw": draw.public_id}
            | {"error": draw.failure},
        )
        session.flush()
        return draw
    draw.status = "done"
    result_bytes = algorithm.jcs(result)
    draw.result_jcs = result_bytes.decode()
    draw.result_hash = algorithm.sha256_hex(result_bytes)
    ledger.append(
        session,
        {
            "kind": "result",
            "at": rfc3339(utcnow()),
            "draw": draw.public_id,
            "result_hash": draw.result_hash,
            "selected": {s["id"]: [u["key"] for u in s["selected"]] for s in result["strata"]},
            "assignments": result["assignments"],
            "pairs": result["pairs"],
        },
    )
    session.flush()
    return draw


def _jsonable(details: dict[str, object]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return data


def annul(session: Session, *, public_id: str, data: Annul, actor: str) -> Draw:
    """Annul a draw in public. It stays in the log and on the pages, marked annulled."""
    draw = lock_draw(session, public_id)
    if draw.status == "annulled":
        raise DrawStateError(f"抽查 {public_id} 已撤销", code="already_annulled")
    now = utcnow()
    draw.annulment = {
        "reason": data.reason,
        "decided_by": data.decided_by,
        "entered_by": actor,
        "previous_status": draw.status,
    }
    draw.status = "annulled"
    draw.annulled_at = now
    _record(session, draw, "annul", actor, {"reason": data.reason, "decided_by": data.decided_by})
    ledger.append(
        session,
        {
            "kind": "annulment",
            "at": rfc3339(now),
            "draw": public_id,
            "reason": data.reason,
            "decided_by": data.decided_by,
        },
    )
    session.flush()
    return draw


def county_name(code: str) -> str:
    """A county's name from its code."""
    return ref.COUNTY_BY_CODE[code].name
