"""The ceremony of one draw: freeze (commit) → dice and/or beacon → seed → result; annulment.

Each step is one call here: it checks the step is allowed now, changes the
draw, appends its public log entry and its history record, all in the caller's
transaction, so everything happens or nothing does. The checkpoint covering the
new entries is signed after the commit (app.ledger.store.sign_after_commit).
Routers and the command line call these functions and nothing else.

No draw is ever redone or edited, and a plan has one live draw at a time: a
new draw of the same plan must name the previous one, annulled or failed, as
the draw it replaces.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import algorithm
from app.draws import beacon as quicknet
from app.draws.beacon import Beacon

# The first step, the freeze, lives in app.draws.freezing; it is called as ceremony.freeze.
from app.draws.freezing import DEFAULT_WINDOW as DEFAULT_WINDOW
from app.draws.freezing import freeze as freeze
from app.draws.models import Draw
from app.draws.result_entry import result_entry
from app.draws.schemas import (
    Annul,
    DiceReveal,
    Reschedule,
    SeedConfirmation,
    Withdrawal,
)
from app.draws.service import (
    DrawStateError,
    get_draw,
    lock_draw,
    record_step,
)
from app.draws.sources import SeedSource, source_named
from app.draws.sources.ceremony_time import announced_start, announced_window, ceremony_start
from app.draws.status import DrawStatus, DrawStep
from app.draws.units import write_units
from app.errors import Conflict, DomainError, InvalidInput
from app.history import ChangeRecord, Person, record_change
from app.ledger import store as ledger
from app.ledger.kinds import EntryKind
from app.types import beijing, rfc3339, utcnow


class OutsideWindow(DomainError):
    status = 409
    code = "outside_ceremony_window"
    title = "不在公告的摇号时间内"


class WitnessNotAnnounced(DomainError):
    status = 403
    code = "witness_not_announced"
    title = "确认人不是公告的见证人"


# -- the announced ceremony -----------------------------------------------------


def _ceremony_source(draw: Draw) -> SeedSource:
    source = source_named(draw.seed_source)
    if not source.uses_dice:
        raise DrawStateError(
            f"抽查 {draw.public_id} 约定使用 drand 随机信标，没有现场摇号，不能录入骰子点数",
            code="no_dice_ceremony",
        )
    return source


def _require_window(draw: Draw, now: datetime) -> None:
    start, end = announced_window(draw.announcement)
    if start <= now < end:
        return
    when = "尚未开始" if now < start else "已经结束"
    raise OutsideWindow(
        f"抽查 {draw.public_id} 公告的摇号时间为 {beijing(start)} 至 {beijing(end)}，现在{when}，"
        "不接受骰子点数；如须改期，须在公告时间之前公开改期（reschedule），"
        "已过时间的须公开撤销后以替代方式重新冻结",
    )


def reschedule(session: Session, *, public_id: str, data: Reschedule, actor: str) -> Draw:
    """Postpone the announced ceremony, in public, before its announced time."""
    draw = lock_draw(session, public_id)
    source = _ceremony_source(draw)
    _require_frozen(draw)
    now = utcnow()
    previous = announced_start(draw.announcement)
    if now >= previous:
        raise DrawStateError(
            f"公告的摇号时间 {beijing(previous)} 已到，不能再改期；"
            "如仪式未能举行，须公开撤销后以替代方式重新冻结",
            code="reschedule_too_late",
        )
    moved = source.reschedule(draw.announcement, ceremony_start(data.ceremony_at, now))
    entry: dict[str, Any] = {
        "kind": EntryKind.RESCHEDULE,
        "at": rfc3339(now),
        "draw": draw.public_id,
        "ceremony_at": moved["ceremony_at"],
        "previous": rfc3339(previous),
        "reason": data.reason,
    }
    if "round" in moved:
        entry["round"] = moved["round"]
    ledger.append(session, entry)
    record_change(
        session,
        entity="draw",
        entity_id=draw.id,
        action=DrawStep.RESCHEDULE,
        actor=actor,
        before=draw.announcement,
        after=moved | {"reason": data.reason},
    )
    draw.announcement = moved
    session.flush()
    return draw


def _digits_hash(digits: str) -> str:
    return hashlib.sha256(digits.encode()).hexdigest()


def _fixed_digits_or_conflict(draw: Draw, digits: str) -> Draw:
    # Entering the confirmed digits again is the same act; other digits never are.
    if draw.dice is not None and draw.dice["digits"] == digits:
        return draw
    raise DrawStateError(
        f"抽查 {draw.public_id} 的骰子点数已于 {draw.dice and draw.dice['confirmed_at']} 确认，不能更改或重抽",
        code="already_seeded",
    )


def enter_digits(session: Session, *, public_id: str, reveal: DiceReveal, actor: str) -> Draw:
    """The operator enters the ceremony's digits; they count once a witness confirms them.

    Only a hash of the digits is kept until then, so the entry cannot be read
    back and copied by the confirming witness.
    """
    draw = lock_draw(session, public_id)
    _ceremony_source(draw)
    if draw.dice is not None:
        return _fixed_digits_or_conflict(draw, reveal.digits)
    _require_frozen(draw)
    _require_window(draw, utcnow())
    announced = draw.announcement["witnesses"]
    strangers = [w for w in reveal.witnesses if w not in announced]
    if strangers:
        raise InvalidInput(
            f"见证人 {'、'.join(strangers)} 不在冻结时公告的见证人名单（{'、'.join(announced)}）中",
            code="witness_not_announced",
        )
    if len(set(reveal.witnesses)) != len(reveal.witnesses):
        raise InvalidInput("在场见证人名单中有重复的姓名", code="witness_duplicate")
    pending = draw.seed_entry
    digest = _digits_hash(reveal.digits)
    if pending is not None:
        if pending["digits_sha256"] == digest and pending["witnesses"] == reveal.witnesses:
            return draw  # the same entry again (a retry)
        raise Conflict(
            f"抽查 {public_id} 已于 {pending['entered_at']} 由 {pending['entered_by']} 录入骰子点数，"
            "待见证人确认；录入有误的，须先撤回（写明理由，记入经办历史），再重新录入",
            code="digits_already_entered",
        )
    now = utcnow()
    draw.seed_entry = {
        "digits_sha256": digest,
        "witnesses": reveal.witnesses,
        "entered_by": actor,
        "entered_at": rfc3339(now),
    }
    record_step(session, draw, DrawStep.SEED_ENTERED, actor, {"witnesses": reveal.witnesses})
    session.flush()
    return draw


def withdraw_digits(session: Session, *, public_id: str, data: Withdrawal, actor: str) -> Draw:
    """The operator takes back an unconfirmed entry, with a reason kept in the history."""
    draw = lock_draw(session, public_id)
    _ceremony_source(draw)
    if draw.dice is not None:
        raise DrawStateError(
            f"抽查 {public_id} 的骰子点数已由见证人确认，不能撤回", code="already_seeded"
        )
    _require_frozen(draw)
    pending = draw.seed_entry
    if pending is None:
        raise DrawStateError(f"抽查 {public_id} 没有待确认的点数录入可撤回", code="no_seed_entry")
    draw.seed_entry = None
    record_step(
        session,
        draw,
        DrawStep.SEED_WITHDRAWN,
        actor,
        {
            "reason": data.reason,
            "entered_by": pending["entered_by"],
            "entered_at": pending["entered_at"],
        },
    )
    session.flush()
    return draw


def _witness_named(name: str, present: list[str]) -> str | None:
    """The present witness this person is: named in full as announced ("李公证（公证处）"),
    or by the name alone ("李公证"), which must then be one witness's only."""
    if name in present:
        return name
    by_name = [w for w in present if re.split(r"[（(]", w, maxsplit=1)[0].strip() == name]
    return by_name[0] if name and len(by_name) == 1 else None


def entry_counts(session: Session, draw: Draw) -> dict[str, int]:
    """How often digits were entered and withdrawn for this draw (from its history)."""
    actions = session.scalars(
        select(ChangeRecord.action).where(
            ChangeRecord.entity == "draw",
            ChangeRecord.entity_id == draw.id,
            ChangeRecord.action.in_((DrawStep.SEED_ENTERED, DrawStep.SEED_WITHDRAWN)),
        )
    ).all()
    return {
        "entries": sum(1 for a in actions if a == "seed_entered"),
        "withdrawals": sum(1 for a in actions if a == "seed_withdrawn"),
    }


def confirm_digits(
    session: Session,
    *,
    public_id: str,
    confirmation: SeedConfirmation,
    person: Person,
) -> Draw:
    """A present, announced witness enters the digits again; if both entries agree they
    are fixed: the seed and the result for dice, a `dice` entry for dice+drand."""
    draw = lock_draw(session, public_id)
    source = _ceremony_source(draw)
    if draw.dice is not None:
        return _fixed_digits_or_conflict(draw, confirmation.digits)
    _require_frozen(draw)
    now = utcnow()
    _require_window(draw, now)
    entry = draw.seed_entry
    if entry is None:
        raise DrawStateError(
            f"抽查 {public_id} 尚未由经办人员录入骰子点数，见证人无可确认", code="no_seed_entry"
        )
    present = list(entry["witnesses"])
    witness = _witness_named(person.name, present)
    if witness is None:
        raise WitnessNotAnnounced(
            f"确认人须是公告并在场的见证人之一（{'、'.join(present)}），"
            f"请在 X-Actor 中写明本人姓名；收到的是“{person.name or '（未填写）'}”",
        )
    if entry["digits_sha256"] != _digits_hash(confirmation.digits):
        raise DrawStateError(
            f"见证人录入的点数与经办人员 {entry['entered_by']} 录入的不一致，未产生种子；"
            "请对照现场记录核对，由经办人员撤回后重新录入，或见证人重新确认",
            code="seed_mismatch",
        )
    counts = entry_counts(session, draw)
    draw.dice = {
        "digits": confirmation.digits,
        "witnesses": present,
        "entered_by": entry["entered_by"],
        "confirmed_by": person.actor,
        "confirmed_person": witness,
        "confirmed_at": rfc3339(now),
    } | counts
    draw.seed_entry = None
    public = {"witnesses": present, "confirmed_by": witness} | counts
    record_step(
        session, draw, DrawStep.SEED_CONFIRMED, person.actor, {"confirmed_by": witness} | counts
    )
    if source.uses_beacon:
        # dice+drand: the digits enter the log before the round's time; the seed waits for it.
        ledger.append(
            session,
            {
                "kind": EntryKind.DICE,
                "at": rfc3339(now),
                "draw": draw.public_id,
                "digits": confirmation.digits,
            }
            | public,
        )
        session.flush()
        return draw
    seed = algorithm.make_seed(
        source.name.value, source.value(digits=confirmation.digits, beacon=None), draw.frame_hash
    )
    detail = {
        "digits": confirmation.digits,
        "witnesses": present,
        "entered_by": entry["entered_by"],
        "confirmed_by": person.actor,
    }
    return _seed_and_run(session, draw, seed, detail, log_extra=public)


def reveal_dice(
    session: Session,
    *,
    public_id: str,
    reveal: DiceReveal,
    operator: str,
    witness: Person,
) -> Draw:
    """Enter and confirm the digits at once: for the server's own console only."""
    enter_digits(session, public_id=public_id, reveal=reveal, actor=operator)
    return confirm_digits(
        session,
        public_id=public_id,
        confirmation=SeedConfirmation(digits=reveal.digits),
        person=witness,
    )


# -- the beacon ------------------------------------------------------------------


def reveal_seed(
    session: Session, *, public_id: str, body: DiceReveal | Beacon | None, actor: str
) -> Draw:
    """The operator's step of the seed: the dice digits entered, or, for a source with a
    beacon, the announced round taken (the one supplied, or fetched now)."""
    if isinstance(body, DiceReveal):
        return enter_digits(session, public_id=public_id, reveal=body, actor=actor)
    if not source_named(get_draw(session, public_id).seed_source).uses_beacon:
        raise InvalidInput(
            "现场摇号须提交 digits（骰子点数，至少 20 位）和 witnesses（在场的公告见证人）"
        )
    return take_beacon(session, public_id=public_id, beacon=body, actor=actor)


def take_beacon(session: Session, *, public_id: str, beacon: Beacon | None, actor: str) -> Draw:
    """Take the announced drand round (supplied, or fetched now), verify it, run the draw.

    The beacon is fetched and verified before any lock is taken: it is
    immutable and self-verifying, and a slow relay must not hold up every other
    ceremony of the city. The draw's state is checked again under the lock.
    """
    draw = get_draw(session, public_id)
    source = source_named(draw.seed_source)
    if not source.uses_beacon:
        raise DrawStateError(f"抽查 {public_id} 约定使用现场骰子，不能使用 drand", code="no_beacon")
    _require_dice_fixed(source, draw)
    round_ = int(draw.announcement["round"])
    due = quicknet.round_time(round_)
    if utcnow() < due:
        # Even a beacon in hand is refused early: the log must show the seed after the round's time.
        raise quicknet.BeaconNotYet(f"第 {round_} 轮将于 {beijing(due)} 发布，请届时再揭晓")
    if beacon is None:
        beacon = quicknet.fetch(round_)
    if beacon.round != round_:
        raise InvalidInput(f"须使用冻结时约定的第 {round_} 轮，收到第 {beacon.round} 轮")
    quicknet.verify(beacon)
    draw = lock_draw(session, public_id)
    _require_dice_fixed(source, draw)
    digits = draw.dice["digits"] if draw.dice is not None else None
    seed = algorithm.make_seed(
        source.name.value, source.value(digits=digits, beacon=beacon), draw.frame_hash
    )
    if draw.seed is not None:
        return _same_seed_or_conflict(draw, seed)
    _require_frozen(draw)
    detail: dict[str, Any] = beacon.model_dump() | {"entered_by": actor}
    if draw.dice is not None:
        detail = {
            k: draw.dice[k] for k in ("digits", "witnesses", "entered_by", "confirmed_by")
        } | {
            "beacon": beacon.model_dump(),
            "beacon_by": actor,
        }
    record_step(session, draw, DrawStep.SEED_DRAND, actor, {"seed": seed, "round": beacon.round})
    return _seed_and_run(session, draw, seed, detail, log_extra={"beacon": beacon.model_dump()})


def _require_dice_fixed(source: SeedSource, draw: Draw) -> None:
    if source.uses_dice and draw.dice is None:
        raise DrawStateError(
            f"抽查 {draw.public_id} 须先完成现场摇号（经办人员录入、见证人确认骰子点数），再取 drand 信标",
            code="dice_not_fixed",
        )


# -- seed and result -------------------------------------------------------------


def _require_frozen(draw: Draw) -> None:
    if draw.status != DrawStatus.FROZEN:
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
        {"kind": EntryKind.SEED, "at": rfc3339(now), "draw": draw.public_id, "seed": seed}
        | log_extra,
    )
    frame = json.loads(draw.frame_jcs)
    try:
        # The frame was read from the committed bytes, whose hash is draw.frame_hash.
        result = algorithm.draw(frame, seed, committed_hash=draw.frame_hash)
    except algorithm.FrameError as exc:
        draw.status = DrawStatus.FAILED
        draw.failure = {"error": exc.code, "details": _jsonable(exc.details()), "message": str(exc)}
        ledger.append(
            session,
            {"kind": EntryKind.FAILURE, "at": rfc3339(utcnow()), "draw": draw.public_id}
            | {"error": draw.failure},
        )
        session.flush()
        return draw
    draw.status = DrawStatus.DONE
    result_bytes = algorithm.jcs(result)
    draw.result_jcs = result_bytes.decode()
    draw.result_hash = algorithm.sha256_hex(result_bytes)
    write_units(session, draw, frame, result)
    ledger.append(
        session, result_entry(draw.public_id, rfc3339(utcnow()), result, draw.result_hash)
    )
    session.flush()
    return draw


def _jsonable(details: dict[str, object]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(details, default=str))
    return data


# -- annulment -------------------------------------------------------------------


def annul(session: Session, *, public_id: str, data: Annul, actor: str) -> Draw:
    """Annul a draw in public. It stays in the log and on the pages, marked annulled."""
    draw = lock_draw(session, public_id)
    if draw.status == DrawStatus.ANNULLED:
        raise DrawStateError(f"抽查 {public_id} 已撤销", code="already_annulled")
    now = utcnow()
    draw.annulment = {
        "reason": data.reason,
        "decided_by": data.decided_by,
        "entered_by": actor,
        "previous_status": draw.status,
    }
    draw.status = DrawStatus.ANNULLED
    draw.annulled_at = now
    record_step(
        session, draw, DrawStep.ANNUL, actor, {"reason": data.reason, "decided_by": data.decided_by}
    )
    ledger.append(
        session,
        {
            "kind": EntryKind.ANNULMENT,
            "at": rfc3339(now),
            "draw": public_id,
            "reason": data.reason,
            "decided_by": data.decided_by,
        },
    )
    session.flush()
    return draw
