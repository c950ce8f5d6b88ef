"""When an inspection's outcome must be public: 20 working days after the inspection.

Working days follow the official calendar the State Council publishes each year
(statutory holidays and the weekend days worked in lieu, 调休), as the
`chinese-calendar` package keeps it. A year it does not cover yet has no answer
here: a deadline is never guessed from weekdays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

BEIJING = ZoneInfo("Asia/Shanghai")
OUTCOME_WORKING_DAYS = 20


def beijing_today() -> date:
    """Today's date in Beijing, the date every public deadline is read against."""
    return datetime.now(BEIJING).date()


def outcome_deadline(inspected_on: date) -> date | None:
    """The last day to publish, or None where the official calendar has no data.

    >>> outcome_deadline(date(2024, 9, 27))  # 国庆: 9-29 and 10-12 worked, 10-1..7 off
    datetime.date(2024, 10, 30)
    """
    # Not chinese_calendar.find_workday: from a weekend or holiday it first moves to
    # the next working day and counts from there, one working day too many.
    current, left = inspected_on, OUTCOME_WORKING_DAYS
    try:
        while left:
            current += timedelta(days=1)
            if chinese_calendar.is_workday(current):
                left -= 1
    except NotImplementedError:
        return None
    return current


def uncovered_year(inspected_on: date) -> int:
    """The first year past `inspected_on` that the calendar lacks (for the message)."""
    year = inspected_on.year
    while True:
        try:
            chinese_calendar.is_workday(date(year, 12, 31))
        except NotImplementedError:
            return year
        year += 1


@dataclass(frozen=True)
class Deadline:
    """One outcome's deadline as the public reads it."""

    due: date | None  # None: the calendar does not cover the year yet
    state: str  # "pending", "overdue", "on_time", "late", "unknown"
    text: str


def outcome_state(
    *, inspected_on: date, published_on: date | None, today: date, planned: bool
) -> Deadline:
    """The deadline of one outcome, published or not, in words whose tense follows `today`.

    `planned` says `inspected_on` is the plan's inspection day, not a recorded inspection.
    """
    due = outcome_deadline(inspected_on)
    basis = "计划检查日" if planned else "检查日"
    if due is None:
        year = uncovered_year(inspected_on)
        text = (
            f"{basis} {inspected_on.isoformat()} 后 {OUTCOME_WORKING_DAYS} 个工作日；"
            f"国务院办公厅尚未公布 {year} 年节假日安排（或本系统尚未更新），暂无法确定公开期限"
        )
        return Deadline(None, "unknown", text)
    if published_on is not None:
        if published_on <= due:
            return Deadline(due, "on_time", f"已于 {published_on.isoformat()} 按期公开")
        return Deadline(
            due,
            "late",
            f"于 {published_on.isoformat()} 公开，晚于期限 {due.isoformat()}（逾期公开）",
        )
    if today > due:
        return Deadline(due, "overdue", f"应已于 {due.isoformat()} 前公开")
    return Deadline(due, "pending", f"应于 {due.isoformat()} 前公开")
