"""The freeze: build the frame now, check it, commit to it in the log, before any seed exists.

A plan has one live draw at a time: a new freeze of a plan that already has a
draw must name the latest one, annulled or failed, as the draw it replaces.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import algorithm
from app.draws.frames import build_frame
from app.draws.models import Draw, Plan
from app.draws.schemas import FreezeRequest
from app.draws.service import (
    DrawStateError,
    FrameRefused,
    QuotaRefused,
    draw_of_plan,
    get_draw,
    next_public_id,
    plan_snapshot,
    record_step,
)
from app.draws.sources import source_named
from app.draws.status import LIVE, DrawStatus, DrawStep
from app.errors import Conflict
from app.ledger import store as ledger
from app.ledger.kinds import EntryKind
from app.types import rfc3339, utcnow

# How long after the announced start digits are accepted (a setting overrides it).
DEFAULT_WINDOW = timedelta(hours=2)

_EXCLUSION_NAMES = {
    "inspected_in_month": "当月已有检查",
    "key_enforcement": "列入重点执法",
    "key_enforcement_counties": "位于重点执法企业所在县市区",
    "inspected_this_cycle": "本轮已检查",
}


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


def _check_frame(frame: dict[str, Any], provenance: dict[str, Any]) -> None:
    try:
        algorithm.check_frame(frame)
    except algorithm.QuotaInfeasible as exc:
        raise QuotaRefused(_infeasible_message(exc, provenance)) from exc
    except algorithm.TeamIncomplete as exc:
        raise FrameRefused(f"无法组成完整的检查组：{exc}", code="team_infeasible") from exc
    except algorithm.FrameError as exc:
        raise FrameRefused(f"抽查框架不合规：{exc}") from exc


def _replaced_draw(session: Session, plan: Plan, replaces: str | None) -> Draw | None:
    """The draw this freeze replaces: the plan's latest, annulled or failed, or none at all."""
    latest = draw_of_plan(session, plan.id)
    if latest is None:
        if replaces is not None:
            replaced = get_draw(session, replaces)
            raise Conflict(
                f"抽查 {replaces} 属于另一计划（编号 {replaced.plan_id}），不能替代为本计划的抽查",
                code="replaces_other_plan",
            )
        return None
    if replaces is None:
        raise Conflict(
            f"计划 {plan.id} 已有抽查 {latest.public_id}（{latest.status}）：一个计划同时只能有一次有效抽查；"
            f"如须重新抽取，须先公开撤销 {latest.public_id}，再以“替代”方式（replaces）冻结",
            code="plan_already_drawn",
        )
    if replaces != latest.public_id:
        other = get_draw(session, replaces)
        if other.plan_id != plan.id:
            raise Conflict(
                f"抽查 {replaces} 属于另一计划（编号 {other.plan_id}），不能替代为本计划的抽查",
                code="replaces_other_plan",
            )
        raise Conflict(
            f"计划 {plan.id} 最近一次抽查是 {latest.public_id}，替代时须指明它，而不是 {replaces}",
            code="replaces_not_latest",
        )
    if latest.status in LIVE:
        raise DrawStateError(
            f"抽查 {replaces} 仍有效（{latest.status}），不能被替代；请先公开撤销",
        )
    return latest


def freeze(
    session: Session,
    *,
    plan: Plan,
    request: FreezeRequest,
    actor: str,
    window: timedelta = DEFAULT_WINDOW,
) -> Draw:
    """Build the frame from the directories now, check it, commit to it in the log.

    A dice ceremony's window for the digits (`window` from its announced start)
    is published with the commitment, so that anyone can check it was kept.
    """
    ledger.lock_head(session)  # two freezes of one plan queue here, and the second sees the first
    replaced = _replaced_draw(session, plan, request.replaces)
    frame, provenance = build_frame(session, plan)
    _check_frame(frame, provenance)
    frame_bytes = algorithm.jcs(frame)
    frame_hash = algorithm.sha256_hex(frame_bytes)
    # One frame, one live draw: the same frame again only as the public
    # replacement of an annulled or failed draw, never as a quiet second try.
    earlier = session.execute(
        select(Draw.public_id, Draw.status).where(Draw.frame_hash == frame_hash)
    ).all()
    live = [public_id for public_id, status in earlier if status in LIVE]
    if live or (earlier and replaced is None):
        raise Conflict(
            f"与已冻结的抽查 {'、'.join(live or [public_id for public_id, _ in earlier])} 的框架完全相同；"
            "同一框架只能抽一次，撤销后须以“替代”方式重新冻结",
            code="frame_already_committed",
        )
    now = utcnow()
    source = source_named(request.seed.source)
    announced = source.announce(request.seed, now=now, window=window)
    draw = Draw(
        public_id=next_public_id(session, plan.year),
        plan_id=plan.id,
        plan_snapshot=plan_snapshot(plan),
        status=DrawStatus.FROZEN,
        frame_jcs=frame_bytes.decode(),
        frame_hash=frame_hash,
        provenance=provenance,
        seed_source=source.name.value,
        announcement=announced,
        replaces_id=replaced.id if replaced else None,
        frozen_by=actor,
        frozen_at=now,
    )
    session.add(draw)
    session.flush()
    entry: dict[str, Any] = {
        "kind": EntryKind.COMMITMENT,
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
    record_step(
        session, draw, DrawStep.FREEZE, actor, {"frame_hash": frame_hash, "seed_source": announced}
    )
    return draw
