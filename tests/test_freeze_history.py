"""Freezing reads the rows of past draws, never their committed results: its cost does
not grow with the bureau's history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import algorithm
from app.draws.models import Draw, Plan
from app.draws.units import write_units
from tests.factories import ApiClient, ceremony_time

WITNESSES = ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]
PAST_DRAWS = 200


@contextmanager
def _statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _freeze(client: ApiClient) -> tuple[dict[str, Any], list[str]]:
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    body = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    with _statements(client.app.state.engine) as seen:  # type: ignore[attr-defined]
        frozen = client.post(f"/api/v1/plans/{plan['id']}/freeze", json=body)
    assert frozen.status_code == 201, frozen.text
    data: dict[str, Any] = frozen.json()
    return data, seen


def _past_draws(factory: sessionmaker[Session], unit: str, inspectors: list[str]) -> None:
    """Years of finished draws that selected `unit` with these inspectors, written as the
    ceremony writes a result: the committed bytes and their rows."""
    frame = {
        "algorithm": "draw/1",
        "strata": [{"id": "s", "count": 1, "units": [{"key": unit, "attrs": {}}]}],
        "inspectors": None,
        "cross": None,
    }
    result = {
        "algorithm": "draw/1",
        "strata": [{"id": "s", "selected": [{"key": unit, "ticket": "0.5"}]}],
        "assignments": [{"unit": unit, "inspectors": inspectors}],
        "pairs": None,
    }
    frame_bytes, result_bytes = algorithm.jcs(frame), algorithm.jcs(result)
    with factory() as session:
        plan = Plan(
            title="往年抽查", year=2019, planned_month="2019-05", spec={}, created_by="测试"
        )
        session.add(plan)
        session.flush()
        for number in range(1, PAST_DRAWS + 1):
            draw = Draw(
                public_id=f"HY-2019-{number:04d}",
                plan_id=plan.id,
                plan_snapshot={"title": "往年抽查"},
                status="done",
                frame_jcs=frame_bytes.decode(),
                frame_hash=algorithm.sha256_hex(frame_bytes),
                provenance={},
                seed_source="dice",
                announcement={},
                result_jcs=result_bytes.decode(),
                result_hash=algorithm.sha256_hex(result_bytes),
                frozen_by="测试",
            )
            session.add(draw)
            session.flush()
            write_units(session, draw, frame, result)
        session.commit()


def test_freezing_after_200_finished_draws_reads_no_past_result(
    demo: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    first, before = _freeze(demo)
    bundle = demo.get(f"/api/v1/draws/{first['public_id']}/bundle").json()
    unit = bundle["frame"]["strata"][0]["units"][0]["key"]
    pool = [i["key"] for i in bundle["frame"]["inspectors"]["pool"]][:2]
    assert not any(c[0] == unit for c in bundle["frame"]["inspectors"].get("conflicts") or [])
    _past_draws(session_factory, unit, pool)

    second, after = _freeze(demo)
    # the past draws' inspectors are recused for the unit they inspected last ...
    frame = demo.get(f"/api/v1/draws/{second['public_id']}/bundle").json()["frame"]
    recused = {(c[0], c[1]) for c in frame["inspectors"].get("conflicts") or []}
    assert {(unit, inspector) for inspector in pool} <= recused
    assert second["provenance"]["inspectors"]["conflicts_last_inspectors"] >= 2
    # ... found from rows: no committed result is read, and the work is the same
    reads = [s for s in after if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if "result_jcs" in s or "frame_jcs" in s]

    # (the log's own node reads grow with its size, O(log n), and are not the draws')
    def draw_work(statements: list[str]) -> list[str]:
        return [s for s in statements if "log_nodes" not in s]

    assert len(draw_work(after)) == len(draw_work(before)) > 10
