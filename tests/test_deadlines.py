"""Outcome deadlines: 20 working days after the inspection, by the official calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import chinese_calendar
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.draws.models import Draw
from app.public import views
from app.public.deadlines import outcome_deadline, outcome_state
from app.public.router import templates
from tests.factories import ApiClient, create_enterprise, dice_draw, set_ceremony_clock, uscc


def _working_days_between(after: date, until: date) -> int:
    """Working days in (after, until], asked of the calendar package itself."""
    days = chinese_calendar.get_workdays(after + timedelta(days=1), until)
    return len(days)


@pytest.mark.parametrize(
    ("inspected", "due"),
    [
        # 国庆 2024: 10-01..07 off, Sunday 09-29 and Saturday 10-12 worked
        (date(2024, 9, 27), date(2024, 10, 30)),
        # 端午 2024: Monday 06-10 off (the weekday count said 06-28)
        (date(2024, 5, 31), date(2024, 7, 1)),
    ],
)
def test_deadline_is_twenty_official_working_days_later(inspected: date, due: date) -> None:
    assert outcome_deadline(inspected) == due
    # the package agrees: due is a working day, and the 20th one after the inspection
    assert chinese_calendar.is_workday(due)
    assert _working_days_between(inspected, due) == 20
    assert _working_days_between(inspected, due - timedelta(days=1)) == 19


def test_a_make_up_weekend_day_counts_and_a_holiday_does_not() -> None:
    assert chinese_calendar.is_in_lieu(date(2024, 10, 1)) is False
    # Friday 2024-09-27 + 1 working day is Sunday 09-29 (调休), not Monday
    assert chinese_calendar.find_workday(1, date(2024, 9, 27)) == date(2024, 9, 29)
    # counted from a Saturday, the first working day after it is still 09-29
    assert outcome_deadline(date(2024, 9, 28)) == date(2024, 10, 30)
    assert _working_days_between(date(2024, 9, 28), date(2024, 10, 30)) == 20


def test_a_year_the_calendar_does_not_cover_is_said_so() -> None:
    last = max(chinese_calendar.holidays)
    uncovered = last.year + 1
    inspected = date(last.year, 12, 20)  # 20 working days later is in the uncovered year
    assert outcome_deadline(inspected) is None
    state = outcome_state(inspected_on=inspected, published_on=None, today=inspected, planned=True)
    assert state.state == "unknown" and state.due is None
    assert f"尚未公布 {uncovered} 年节假日安排" in state.text
    assert outcome_deadline(date(uncovered + 1, 3, 1)) is None


def test_tense_and_overdue_follow_the_date() -> None:
    inspected = date(2024, 5, 31)
    before = outcome_state(
        inspected_on=inspected, published_on=None, today=date(2024, 7, 1), planned=True
    )
    assert (before.state, before.text) == ("pending", "应于 2024-07-01 前公开")
    after = outcome_state(
        inspected_on=inspected, published_on=None, today=date(2024, 7, 2), planned=True
    )
    assert (after.state, after.text) == ("overdue", "应已于 2024-07-01 前公开")
    on_time = outcome_state(
        inspected_on=inspected, published_on=date(2024, 7, 1), today=date(2025, 1, 1), planned=False
    )
    assert on_time.state == "on_time"
    late = outcome_state(
        inspected_on=inspected, published_on=date(2024, 7, 2), today=date(2025, 1, 1), planned=False
    )
    assert late.state == "late" and "逾期公开" in late.text


def _draw(
    client: ApiClient, *, month: str, inspection_date: str | None, at: str | None = None
) -> dict[str, Any]:
    for i in range(3):
        create_enterprise(client, uscc=uscc(serial=i + 1), name=f"期限加油站{i + 1}号")
    plan = client.post(
        "/api/v1/plans",
        json={
            "title": "期限测试",
            "year": int(month[:4]),
            "planned_month": month,
            "inspection_date": inspection_date,
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
    )
    assert plan.status_code == 201, plan.text
    return dice_draw(client, plan.json()["id"], "27182818284590452353", ceremony_at=at)


def test_each_outcome_has_its_own_deadline_on_the_page_and_notice(
    client: ApiClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    # drawn in May 2024, so that an inspection of 2024-05-31 is one of this draw's
    drawn_at = datetime(2024, 5, 20, 2, 0, tzinfo=UTC)
    set_ceremony_clock(monkeypatch, lambda: drawn_at)
    done = _draw(client, month="2024-09", inspection_date="2024-09-27", at=drawn_at.isoformat())
    public_id = str(done["public_id"])
    drawn = [u["key"] for u in done["result"]["strata"][0]["selected"]]
    # one inspected before the holiday and published in time; the other never published
    recorded = client.post(
        f"/api/v1/draws/{public_id}/outcomes",
        json={"uscc": drawn[0], "outcome": "no_problem", "inspected_on": "2024-05-31"},
    )
    assert recorded.status_code == 201, recorded.text
    client.post(f"/api/v1/draws/{public_id}/outcomes/{drawn[0]}/publish")
    page = client.get(f"/draws/{public_id}").text
    assert "检查结果应已于 2024-10-30 前公开" in page  # from the plan's day, 2024-09-27
    assert "逾期未公开" in page and "应已于 2024-10-30 前公开" in page
    assert "晚于期限 2024-07-01（逾期公开）" in page  # its own day, 2024-05-31
    csv = client.get(f"/draws/{public_id}.csv").content.decode("utf-8-sig")
    assert "逾期未公开" in csv and "2024-07-01" in csv

    # read on a day before the deadline, the same draw speaks in the future tense
    with session_factory() as session:
        draw = session.query(Draw).filter_by(public_id=public_id).one()
        detail = views.draw_detail(session, draw, today=date(2024, 10, 8))
    text = templates.get_template("_deadline.html").render(d=detail)
    assert "检查结果应于 2024-10-30 前公开" in text and "逾期未公开" not in text
    row = next(r for r in detail["strata"][0]["rows"] if r["uscc"] == drawn[1])
    assert row["outcome"]["text"] == "尚未公开"
    assert row["outcome"]["deadline"] == "应于 2024-10-30 前公开"


def test_a_plan_past_the_calendar_says_it_cannot_tell(client: ApiClient) -> None:
    last = max(chinese_calendar.holidays)
    done = _draw(client, month=f"{last.year}-12", inspection_date=f"{last.year}-12-28")
    page = client.get(f"/draws/{done['public_id']}").text
    assert f"尚未公布 {last.year + 1} 年节假日安排" in page
    assert "逾期未公开" not in page
