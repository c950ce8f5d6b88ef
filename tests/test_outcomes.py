"""Inspection outcomes: recorded, published to the log, shown to the public."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.history import ChangeRecord
from tests.factories import beijing_today, ceremony_time, create_enterprise, reveal_dice, uscc

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
TODAY = beijing_today()  # a draw made today admits inspections of today only


def _done_draw(client: TestClient) -> dict[str, Any]:
    for i in range(4):
        create_enterprise(client, uscc=uscc(serial=i + 1), name=f"测试加油站{i + 1}号")
    plan = client.post(
        "/api/v1/plans",
        json={
            "title": "测试抽查",
            "year": 2025,
            "planned_month": "2025-06",
            "spec": {
                "strata": [
                    {
                        "id": "gas",
                        "label": "加油站",
                        "filter": {"subtype": ["gas_station"]},
                        "count": 2,
                    }
                ]
            },
        },
    ).json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    done: dict[str, Any] = reveal_dice(
        client, frozen["public_id"], "31415926535897932384", WITNESSES
    ).json()
    return done


def test_outcomes_are_recorded_then_published_and_then_fixed(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    draw = _done_draw(client)
    public_id = draw["public_id"]
    drawn = [u["key"] for u in draw["result"]["strata"][0]["selected"]]
    not_drawn = next(uscc(serial=i + 1) for i in range(4) if uscc(serial=i + 1) not in drawn)
    refused = client.post(
        f"/api/v1/draws/{public_id}/outcomes",
        json={"uscc": not_drawn, "outcome": "no_problem", "inspected_on": TODAY},
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "not_drawn"

    body = {
        "uscc": drawn[0],
        "outcome": "责令限期整改",
        "inspected_on": TODAY,
        "note": "消防器材过期，限期 15 日整改",
    }
    recorded = client.post(
        f"/api/v1/draws/{public_id}/outcomes", json=body | {"note": "消防器材过期"}
    )
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["outcome"] == "rectify"
    assert recorded.json()["published_at"] is None
    page = client.get(f"/draws/{public_id}").text
    assert "逾期未公开" in page and "消防器材过期" not in page  # planned for 2025-06
    corrected = client.post(f"/api/v1/draws/{public_id}/outcomes", json=body)
    assert corrected.json()["note"] == "消防器材过期，限期 15 日整改"

    published = client.post(f"/api/v1/draws/{public_id}/outcomes/{drawn[0]}/publish").json()
    assert published["log_index"] is not None
    entry = client.get(f"/api/v1/log/entries/{published['log_index']}").json()["entry"]
    assert entry == entry | {
        "kind": "inspection",
        "draw": public_id,
        "uscc": drawn[0],
        "unit": drawn[0],
        "outcome": "rectify",
        "date": TODAY,
    }
    again = client.post(f"/api/v1/draws/{public_id}/outcomes/{drawn[0]}/publish").json()
    assert again["log_index"] == published["log_index"]
    changed = client.post(f"/api/v1/draws/{public_id}/outcomes", json=body | {"note": "改"})
    assert changed.status_code == 409
    assert changed.json()["code"] == "outcome_published"

    page = client.get(f"/draws/{public_id}").text
    assert f"责令限期整改（检查日 {TODAY}）：消防器材过期，限期 15 日整改" in page
    history = client.get(f"/api/v1/inspections?uscc={drawn[0]}").json()["items"]
    assert [(h["kind"], h["inspected_on"]) for h in history] == [("city", TODAY)]
    # The inspection record the publication made has its history, like any other.
    with session_factory() as session:
        created = session.execute(
            select(ChangeRecord.action, ChangeRecord.actor).where(
                ChangeRecord.entity == "inspection", ChangeRecord.entity_id == history[0]["id"]
            )
        ).all()
    assert [tuple(c) for c in created] == [("create", "测试经办人员")]
    notice = client.get(f"/draws/{public_id}.csv").content.decode("utf-8-sig")
    assert notice.splitlines()[0].endswith(",检查结果,结果公开期限")
    assert f"责令限期整改（检查日 {TODAY}）" in notice
    draw_entries = client.get(f"/api/v1/draws/{public_id}").json()["log_entries"]
    assert published["log_index"] in draw_entries
    # who recorded and who published, in the draw's history
    steps = [
        (h["action"], h["actor"])
        for h in client.get(f"/api/v1/draws/{public_id}/history").json()["items"]
    ]
    assert steps[-3:] == [
        ("record", "测试经办人员"),
        ("record", "测试经办人员"),
        ("publish", "测试经办人员"),
    ]


def test_outcomes_need_a_finished_draw(client: TestClient) -> None:
    create_enterprise(client)
    plan = client.post(
        "/api/v1/plans",
        json={
            "title": "测试抽查",
            "year": 2025,
            "planned_month": "2025-06",
            "spec": {
                "strata": [
                    {
                        "id": "gas",
                        "label": "加油站",
                        "filter": {"subtype": ["gas_station"]},
                        "count": 1,
                    }
                ]
            },
        },
    ).json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    response = client.post(
        f"/api/v1/draws/{frozen['public_id']}/outcomes",
        json={"uscc": uscc(), "outcome": "no_problem", "inspected_on": TODAY},
    )
    assert response.status_code == 409
    assert response.json()["code"] == "draw_state"


def test_an_inspection_dated_before_the_draw_or_in_the_future_is_refused(
    client: TestClient,
) -> None:
    draw = _done_draw(client)
    public_id = draw["public_id"]
    drawn = draw["result"]["strata"][0]["selected"][0]["key"]
    for day in ("2099-01-01", "2019-06-10", _shift(TODAY, 1), _shift(TODAY, -1)):
        refused = client.post(
            f"/api/v1/draws/{public_id}/outcomes",
            json={"uscc": drawn, "outcome": "no_problem", "inspected_on": day},
        )
        assert refused.status_code == 422, (day, refused.text)
        assert refused.json()["code"] == "inspected_on_out_of_range"
        assert "北京时间" in refused.json()["detail"]
    assert client.get(f"/api/v1/draws/{public_id}/outcomes").json()["items"] == []
    accepted = client.post(
        f"/api/v1/draws/{public_id}/outcomes",
        json={"uscc": drawn, "outcome": "no_problem", "inspected_on": TODAY},
    )
    assert accepted.status_code == 201, accepted.text


def _shift(day: str, days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()
