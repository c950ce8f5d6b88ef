"""Finding draws by plan, year, quarter, sector, status and text, and reading
who each selected without one call per enterprise."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo_load import load_demo_pool
from tests.factories import ceremony_time, reveal_dice

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


def dice() -> dict[str, Any]:
    """A freeze body announcing a dice ceremony for now (a time in the past is refused)."""
    return {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}


@pytest.fixture
def draws(client: TestClient, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    made: dict[str, Any] = {}
    for key in ("2025-training", "2025-hazchem", "2024-coal"):
        plan = client.post(f"/api/v1/plans/from-template/{key}").json()
        frozen = client.post(f"/api/v1/plans/{plan['id']}/freeze", json=dice())
        assert frozen.status_code == 201, frozen.text
        made[key] = {"plan": plan, "draw": frozen.json()}
    done = reveal_dice(client, made["2025-hazchem"]["draw"]["public_id"], "1" * 20, WITNESSES)
    assert done.status_code == 200 and done.json()["status"] == "done", done.text
    made["2025-hazchem"]["draw"] = done.json()
    return made


def _ids(client: TestClient, **params: Any) -> set[str]:
    response = client.get("/api/v1/draws", params=params)
    assert response.status_code == 200, response.text
    return {d["public_id"] for d in response.json()["items"]}


def test_draws_filter_by_plan_year_quarter_sector_status_and_text(
    client: TestClient, draws: dict[str, Any]
) -> None:
    ids = {key: made["draw"]["public_id"] for key, made in draws.items()}
    assert _ids(client) == set(ids.values())
    assert _ids(client, plan_id=draws["2025-training"]["plan"]["id"]) == {ids["2025-training"]}
    assert _ids(client, year=2025) == {ids["2025-training"], ids["2025-hazchem"]}
    assert _ids(client, year=2025, quarter=3) == {ids["2025-training"]}
    assert _ids(client, sector="coal") == {ids["2024-coal"]}
    assert _ids(client, status="done") == {ids["2025-hazchem"]}
    assert _ids(client, status="frozen", year=2024) == {ids["2024-coal"]}
    assert _ids(client, q="培训机构") == {ids["2025-training"]}
    assert _ids(client, q=ids["2024-coal"]) == {ids["2024-coal"]}
    assert _ids(client, q="100%_") == set()  # wildcards are text, not patterns


@pytest.mark.parametrize(
    ("params", "allowed"),
    [({"status": "bogus"}, "annulled"), ({"sector": "gas"}, "hazchem")],
)
def test_an_unknown_draw_filter_is_refused_with_the_allowed_values(
    client: TestClient, params: dict[str, str], allowed: str
) -> None:
    response = client.get("/api/v1/draws", params=params)
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert allowed in error["message"]


def test_a_draw_names_the_enterprises_it_selected(
    client: TestClient, draws: dict[str, Any]
) -> None:
    done = draws["2025-hazchem"]["draw"]
    selected = [(s["id"], u["key"]) for s in done["result"]["strata"] for u in s["selected"]]
    units = done["units"]
    assert {(u["stratum"], u["key"]) for u in units} == set(selected)
    for unit in units:
        stored = client.get(f"/api/v1/enterprises/by-uscc/{unit['uscc']}").json()
        assert (unit["name"], unit["county"], unit["subtype"]) == (
            stored["name"],
            stored["county"],
            stored["subtype"],
        )
        assert unit["county_name"] == stored["county_name"]
    # a highway pair is one unit of the draw and two enterprises
    pairs = [u for u in units if u["key"] != u["uscc"]]
    assert pairs and len(pairs) == 2 * len({u["key"] for u in pairs})
    listed = client.get("/api/v1/draws", params={"status": "done"}).json()["items"]
    assert listed[0]["units"] == units
    assert draws["2025-training"]["draw"]["units"] == []  # not drawn yet


def _statements_of_the_list(client: TestClient) -> tuple[int, list[dict[str, Any]]]:
    """How many SQL statements one page of the draws costs, and its draws."""
    engine = client.app.state.engine  # type: ignore[attr-defined]
    count = 0

    def seen(*_args: Any) -> None:
        nonlocal count
        count += 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        response = client.get("/api/v1/draws", params={"page_size": 100})
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return count, items


def test_a_page_of_draws_costs_as_many_queries_with_more_draws_on_it(
    client: TestClient, draws: dict[str, Any]
) -> None:
    few, listed = _statements_of_the_list(client)
    assert len(listed) == 3
    # more draws, more finished ones, and a replacement chain
    annulled = draws["2025-hazchem"]["draw"]["public_id"]
    annul = client.post(
        f"/api/v1/draws/{annulled}/annul",
        json={"reason": "被抽中企业已停产，经局务会研究撤销本次抽查", "decided_by": "局务会"},
    )
    assert annul.status_code == 200, annul.text
    again = client.post(
        f"/api/v1/plans/{draws['2025-hazchem']['plan']['id']}/freeze",
        json=dice() | {"replaces": annulled},
    )
    assert again.status_code == 201, again.text
    other = client.post("/api/v1/plans/from-template/2024-hazchem").json()
    frozen = client.post(f"/api/v1/plans/{other['id']}/freeze", json=dice()).json()
    for public_id in (again.json()["public_id"], frozen["public_id"]):
        done = reveal_dice(client, public_id, "7" * 20, WITNESSES)
        assert done.status_code == 200 and done.json()["status"] == "done", done.text
    more, listed = _statements_of_the_list(client)
    assert len(listed) == 5
    assert more == few
    # and each draw of the page is what reading it alone answers
    for item in listed:
        assert item == client.get(f"/api/v1/draws/{item['public_id']}").json()
    by_id = {item["public_id"]: item for item in listed}
    assert by_id[annulled]["replaced_by"] == again.json()["public_id"]
    assert by_id[again.json()["public_id"]]["replaces"] == annulled
    assert by_id[frozen["public_id"]]["units"] and by_id[annulled]["units"]
    assert all(by_id[p]["log_entries"] for p in by_id)
