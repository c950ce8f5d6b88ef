"""A finished draw's selected enterprises as rows (`draw_units`), written with its result."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.draws.models import Draw, DrawUnit
from app.draws.status import DrawStatus

# Bound parameters per IN list: well within every database's limit.
_CHUNK = 5_000


def drawn_rows(frame: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per selected enterprise (a cluster gives one per member).

    >>> frame = {"strata": [{"id": "s", "units": [{"key": "P", "attrs": {"members": ["A", "B"]}}]}]}
    >>> result = {"strata": [{"id": "s", "selected": [{"key": "P"}]}],
    ...           "assignments": [{"unit": "P", "inspectors": ["c1", "c2"]}]}
    >>> [(r["unit_key"], r["uscc"], r["inspectors"]) for r in drawn_rows(frame, result)]
    [('P', 'A', ['c1', 'c2']), ('P', 'B', ['c1', 'c2'])]
    """
    members = {
        u["key"]: u["attrs"].get("members", [u["key"]]) for s in frame["strata"] for u in s["units"]
    }
    teams = {a["unit"]: a["inspectors"] for a in result.get("assignments") or []}
    return [
        {"stratum": s["id"], "unit_key": u["key"], "uscc": code, "inspectors": teams.get(u["key"])}
        for s in result["strata"]
        for u in s["selected"]
        for code in members[u["key"]]
    ]


def write_units(
    session: Session, draw: Draw, frame: dict[str, Any], result: dict[str, Any]
) -> None:
    """Store the draw's selected enterprises, in the transaction of its result."""
    rows = [row | {"draw_id": draw.id} for row in drawn_rows(frame, result)]
    if rows:
        session.execute(insert(DrawUnit), rows)


def units_of(session: Session, draw: Draw) -> dict[str, str]:
    """Each enterprise code the draw selected, and the unit it was drawn in."""
    found = session.execute(
        select(DrawUnit.uscc, DrawUnit.unit_key).where(DrawUnit.draw_id == draw.id)
    )
    return {code: unit for code, unit in found}


def last_inspectors(session: Session, codes: Iterable[str]) -> dict[str, set[str]]:
    """For each enterprise code, the inspectors of the latest finished draw that selected it."""
    latest: dict[str, set[str]] = {}
    wanted = sorted(set(codes))
    for start in range(0, len(wanted), _CHUNK):
        part = wanted[start : start + _CHUNK]
        rows = session.execute(
            select(DrawUnit.uscc, DrawUnit.inspectors)
            .join(Draw, Draw.id == DrawUnit.draw_id)
            .where(
                Draw.status == DrawStatus.DONE,
                DrawUnit.uscc.in_(part),
                DrawUnit.inspectors.is_not(None),
            )
            .order_by(Draw.id)
        )
        for code, inspectors in rows:
            latest[code] = set(inspectors or ())
    return latest
