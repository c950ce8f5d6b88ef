"""The public view of draws: only what 一公开 publishes, never private fields.

Inspectors appear with name and certificate number only; conflicts of
interest, phone numbers and draft plans never reach these views.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, load_only

from app import reference as ref
from app.draws import ceremony
from app.draws.bundle import proving_checkpoint
from app.draws.frames import month_bounds
from app.draws.models import Draw, Outcome
from app.draws.sources import source_named
from app.draws.status import DrawStatus
from app.ledger import store
from app.ledger.keys import Signer
from app.ledger.models import LogEntry
from app.pools.models import Enterprise, Inspector
from app.public import notice
from app.public.deadlines import BEIJING, OUTCOME_WORKING_DAYS, outcome_state

STATUS_LABELS: dict[str, str] = {
    DrawStatus.FROZEN: "已冻结，待摇号",
    DrawStatus.DONE: "已出结果",
    DrawStatus.FAILED: "抽取失败",
    DrawStatus.ANNULLED: "已撤销",
}
KIND_LABELS = {
    "commitment": "承诺（冻结框架）",
    "seed": "种子",
    "result": "结果",
    "failure": "失败",
    "annulment": "撤销",
    "inspection": "检查结果",
    "reschedule": "改期",
    "dice": "骰子点数（待 drand 轮次）",
}
SECTOR_LABELS = {t.code: t.label for t in ref.SECTORS}
SUBTYPE_LABELS = {t.code: t.label for t in ref.ALL_SUBTYPES}


def local_time(moment: datetime | None) -> str:
    """Beijing time, as the public reads it, labelled so."""
    if moment is None:
        return ""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") + " 北京时间"


def rfc3339_local(text: str | None) -> str:
    """A log entry's RFC 3339 UTC time, in Beijing time."""
    return local_time(datetime.fromisoformat(text.replace("Z", "+00:00"))) if text else ""


def chinese_date(moment: datetime) -> str:
    """The Beijing date as an official document writes it: 2024年6月3日."""
    day = moment.astimezone(BEIJING).date()
    return f"{day.year}年{day.month}月{day.day}日"


def rule_text(stratum: dict[str, Any]) -> str:
    """A stratum's quota in words."""
    if "count" in stratum and stratum["count"] is not None:
        text = f"抽取 {stratum['count']} " + ("对" if stratum.get("cluster_by") else "家")
    elif stratum.get("ratio"):
        text = f"按 {_percent(stratum['ratio'])} 抽取（向上取整）"
    else:
        group = stratum["per_group"]
        each = f"{group['count']} 家" if group.get("count") else _percent(group["ratio"])
        text = f"每个县市区抽取 {each}"
        if group.get("max_groups"):
            text += f"，先随机抽取 {group['max_groups']} 个县市区"
    return text


def _percent(ratio: str) -> str:
    from fractions import Fraction

    value = Fraction(ratio) * 100
    return (
        f"{value.numerator // value.denominator}%"
        if value.denominator == 1
        else f"{float(value):g}%"
    )


def _outcome(
    outcome: Outcome | None, *, planned_day: date, today: date, annulled: bool
) -> dict[str, Any]:
    """A drawn enterprise's outcome and its deadline, as the public reads them.

    An outcome not yet published is measured against the plan's inspection day:
    what was recorded but not published is not public, and neither is its date.
    """
    if outcome is None or outcome.published_at is None:
        if annulled:
            return {"text": "抽查已撤销", "deadline": "", "state": "annulled", "due": None}
        deadline = outcome_state(
            inspected_on=planned_day, published_on=None, today=today, planned=True
        )
        text = "逾期未公开" if deadline.state == "overdue" else "尚未公开"
    else:
        label = next(t.label for t in ref.OUTCOMES if t.code == outcome.outcome)
        note = f"：{outcome.note}" if outcome.note else ""
        text = f"{label}（检查日 {outcome.inspected_on.isoformat()}）{note}"
        deadline = outcome_state(
            inspected_on=outcome.inspected_on,
            published_on=outcome.published_at.astimezone(BEIJING).date(),
            today=today,
            planned=False,
        )
    return {
        "text": text,
        "deadline": deadline.text,
        "state": deadline.state,
        "due": deadline.due.isoformat() if deadline.due else None,
    }


def draw_summary(draw: Draw) -> dict[str, Any]:
    """One line of the public list of draws."""
    plan = draw.plan_snapshot
    return {
        "public_id": draw.public_id,
        "title": plan["title"],
        "year": plan["year"],
        "quarter": plan.get("quarter"),
        "sector": SECTOR_LABELS.get(plan.get("sector") or "", "综合"),
        "status": draw.status,
        "status_label": STATUS_LABELS.get(draw.status, draw.status),
        "frozen_at": local_time(draw.frozen_at),
    }


def draw_list(session: Session) -> list[dict[str, Any]]:
    """Every draw, newest plans first."""
    # Only what a line shows: frames and results may be megabytes each.
    columns = load_only(Draw.public_id, Draw.plan_snapshot, Draw.status, Draw.frozen_at)
    draws = session.scalars(select(Draw).options(columns).order_by(Draw.id.desc()))
    return [draw_summary(d) for d in draws]


def _seed_source(draw: Draw) -> str:
    return source_named(draw.seed_source).describe(draw.announcement)


def _ceremony(session: Session, draw: Draw) -> str | None:
    """How the ceremony went, as its history and the log show it."""
    if not source_named(draw.seed_source).uses_dice:
        return None
    counts = ceremony.entry_counts(session, draw)
    parts = [f"骰子点数录入 {counts['entries']} 次，撤回 {counts['withdrawals']} 次"]
    if draw.dice is not None:
        parts.append(f"由见证人 {draw.dice['confirmed_person']} 确认")
    elif draw.status == DrawStatus.FROZEN:
        parts.append("尚待见证人确认")
    return "，".join(parts)


def ceremony_view(draw: Draw) -> dict[str, Any]:
    """What the ceremony screen shows of the announced seed source, and the digits once logged."""
    announced = draw.announcement
    # The digits once confirmed (for dice+drand logged before the beacon), never before.
    digits = str(draw.dice["digits"]) if draw.dice is not None else ""
    # The moment the room waits for: the drand round when there is one, else the ceremony.
    awaited = announced.get("round_time") or announced.get("ceremony_at")
    return {
        "source": announced["source"],
        "witnesses": announced.get("witnesses") or [],
        "ceremony_at": rfc3339_local(announced.get("ceremony_at")),
        "round": announced.get("round"),
        "round_time": rfc3339_local(announced.get("round_time")),
        "awaited": awaited,
        "digits_until": announced.get("digits_until"),
        "digits": " ".join(digits[i : i + 4] for i in range(0, len(digits), 4)),
    }


def draw_detail(session: Session, draw: Draw, *, today: date) -> dict[str, Any]:
    """Everything the public page of one draw shows, its deadlines read on `today`."""
    plan = draw.plan_snapshot
    inspection_day = (
        date.fromisoformat(plan["inspection_date"])
        if plan.get("inspection_date")
        else month_bounds(plan["planned_month"])[1]
    )
    frame = json.loads(draw.frame_jcs)
    result = json.loads(draw.result_jcs) if draw.result_jcs else None
    members = {
        u["key"]: u["attrs"].get("members", [u["key"]]) for s in frame["strata"] for u in s["units"]
    }
    # Only the drawn enterprises: a frame may hold a hundred thousand.
    codes = {
        code
        for s in (result or {}).get("strata", [])
        for u in s["selected"]
        for code in members[u["key"]]
    }
    enterprises = {
        e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))
    }
    assignments = {a["unit"]: a["inspectors"] for a in (result or {}).get("assignments") or []}
    certs = {c for team in assignments.values() for c in team}
    inspectors = {
        i.cert_no: i.name
        for i in session.scalars(select(Inspector).where(Inspector.cert_no.in_(certs)))
    }
    published = {
        o.uscc: o
        for o in session.scalars(
            select(Outcome).where(Outcome.draw_id == draw.id, Outcome.published_at.is_not(None))
        )
    }
    spec_strata = {s["id"]: s for s in plan["spec"]["strata"]}
    strata = []
    for stratum in frame["strata"]:
        chosen = next(
            (s for s in (result or {}).get("strata", []) if s["id"] == stratum["id"]), None
        )
        spec = spec_strata.get(stratum["id"], {})
        rows = []
        for unit in (chosen or {}).get("selected", []):
            team = [
                {"name": inspectors.get(c, ""), "cert_no": c}
                for c in assignments.get(unit["key"], [])
            ]
            for code in members[unit["key"]]:
                e = enterprises.get(code)
                rows.append(
                    {
                        "unit": unit["key"],
                        "uscc": code,
                        "name": e.name if e else code,
                        "county_name": ref.COUNTY_BY_CODE[e.county_code].name if e else "",
                        "subtype": SUBTYPE_LABELS.get(e.subtype, e.subtype) if e else "",
                        "team": team,
                        "outcome": _outcome(
                            published.get(code),
                            planned_day=inspection_day,
                            today=today,
                            annulled=draw.status == DrawStatus.ANNULLED,
                        ),
                    }
                )
        strata.append(
            {
                "id": stratum["id"],
                "label": spec.get("label", stratum["id"]),
                "rule": rule_text(spec | {k: v for k, v in stratum.items() if k != "units"}),
                "eligible": len(stratum["units"]),
                "groups": (chosen or {}).get("groups"),
                "rows": rows,
            }
        )
    planned = outcome_state(
        inspected_on=inspection_day, published_on=None, today=today, planned=True
    )
    outcomes = [r["outcome"] for s in strata for r in s["rows"]]
    return draw_summary(draw) | {
        "planned_month": plan["planned_month"],
        "frame_hash": draw.frame_hash,
        "seed_source": _seed_source(draw),
        "ceremony": _ceremony(session, draw),
        "seed": draw.seed,
        "seeded_at": local_time(draw.seeded_at),
        "result_hash": draw.result_hash,
        "strata": strata,
        "pairs": (result or {}).get("pairs") or [],
        "failure": (draw.failure or {}).get("message"),
        "annulment": draw.annulment
        and {
            "reason": draw.annulment["reason"],
            "decided_by": draw.annulment["decided_by"],
            "at": local_time(draw.annulled_at),
        },
        "inspection_day": inspection_day.isoformat(),
        "outcome_deadline": planned.due.isoformat() if planned.due else None,
        "deadline_passed": planned.due is not None and today > planned.due,
        "deadline_note": planned.text if planned.due is None else "",
        "working_days": OUTCOME_WORKING_DAYS,
        "overdue": sum(o["state"] == "overdue" for o in outcomes),
        "late": sum(o["state"] == "late" for o in outcomes),
        "published": sum(o["state"] in ("on_time", "late") for o in outcomes),
        "today": today.isoformat(),
        "issued_on": chinese_date(draw.annulled_at or draw.seeded_at or draw.frozen_at),
    }


def log_state(session: Session, signer: Signer) -> notice.LogState:
    """The signed checkpoint a page or a notice cites, with the key that signed it."""
    return notice.LogState.of(proving_checkpoint(session, signer), signer.verifier_key)


def log_size(session: Session) -> int:
    """How many entries the public log holds."""
    return store.size(session)


def recent_entries(session: Session, *, limit: int = 50) -> list[dict[str, Any]]:
    """The log's latest entries, newest first: index, kind in words, draw, time."""
    rows = session.scalars(select(LogEntry).order_by(LogEntry.idx.desc()).limit(limit))
    return [
        {
            "index": row.idx,
            "kind": KIND_LABELS.get(row.kind, row.kind),
            "draw": row.draw,
            "at": rfc3339_local(json.loads(row.body).get("at")),
        }
        for row in rows
    ]
