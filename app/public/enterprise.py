"""One enterprise's public page: every published draw that selected it.

Only what the draw pages already publish: the enterprise's name, code, county
and category, its inspectors and published outcomes, and how often it was drawn
against how often it was in a frame, so that it can see it is not singled out.
An enterprise no published draw selected has no page: the directory is not public.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.draws.models import Draw
from app.draws.status import DrawStatus
from app.draws.units import units_of
from app.errors import NotFound
from app.public import views
from app.public.deadlines import BEIJING

PUBLISHED = (
    DrawStatus.DONE,
    DrawStatus.ANNULLED,
)  # a result was logged (an annulled one stays public)


def _cycle_start(draws: list[Draw], today: date) -> date | None:
    """The start of the current coverage cycle, as the latest plans state it."""
    starts = [
        date.fromisoformat(start)
        for d in draws
        if (
            start := ((d.plan_snapshot.get("spec") or {}).get("exclusions") or {}).get(
                "cycle_start"
            )
        )
    ]
    return max((s for s in starts if s <= today), default=None)


def enterprise_detail(session: Session, uscc: str, *, today: date) -> dict[str, Any]:
    """The public page of one enterprise, read on `today`."""
    code = uscc.strip().upper()
    draws = list(
        session.scalars(select(Draw).where(Draw.status.in_(PUBLISHED)).order_by(Draw.id.desc()))
    )
    quoted = f'"{code}"'
    selected: list[tuple[Draw, dict[str, Any]]] = []
    eligible: list[Draw] = []
    for draw in draws:
        if quoted not in draw.frame_jcs:
            continue
        eligible.append(draw)
        if code in units_of(session, draw):
            detail = views.draw_detail(session, draw, today=today)
            selected.append((draw, detail))
    if not selected:
        raise NotFound(f"没有选中统一社会信用代码为 {code} 的企业的已公开抽查")
    rows = []
    for _draw, detail in selected:
        for stratum in detail["strata"]:
            for row in stratum["rows"]:
                if row["uscc"] == code:
                    rows.append(detail | {"stratum": stratum["label"], "row": row})
    first = rows[0]["row"]
    cycle = _cycle_start(draws, today)

    def counted(items: list[Draw], since: date | None) -> int:
        return sum(
            1
            for d in items
            if d.status == DrawStatus.DONE
            and (since is None or d.frozen_at.astimezone(BEIJING).date() >= since)
        )

    year_start = date(today.year, 1, 1)
    chosen = [d for d, _ in selected]
    return {
        "uscc": code,
        "name": first["name"],
        "county_name": first["county_name"],
        "subtype": first["subtype"],
        "draws": rows,
        "year": today.year,
        "drawn_this_year": counted(chosen, year_start),
        "eligible_this_year": counted(eligible, year_start),
        "cycle_start": cycle.isoformat() if cycle else None,
        "drawn_in_cycle": counted(chosen, cycle),
        "eligible_in_cycle": counted(eligible, cycle),
    }
