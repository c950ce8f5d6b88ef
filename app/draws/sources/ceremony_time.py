"""The announced time of a dice ceremony, shared by the sources that read out dice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import AwareDatetime, Field

from app.errors import InvalidInput
from app.pools.schemas import Text
from app.types import beijing, parse_rfc3339, rfc3339

# The clerk's computer and the server may disagree by a few minutes.
CLOCK_TOLERANCE = timedelta(minutes=5)

WitnessName = Annotated[Text, Field(min_length=2, max_length=50)]
Witnesses = Annotated[
    list[WitnessName],
    Field(
        min_length=2, max_length=20, description="见证人姓名及身份（录入和确认点数的须是这些人）"
    ),
]
CeremonyAt = Annotated[
    AwareDatetime,
    Field(description="摇号仪式时间，须带时区，如 2024-06-03T10:00:00+08:00（北京时间）"),
]


def ceremony_start(ceremony_at: datetime, now: datetime) -> datetime:
    """The announced start, never before the commitment.

    Digits must not exist before the commitment: a ceremony that already took
    place cannot seed a frame frozen now. A time a few minutes past (clocks
    differ) is read as "now", so the announcement never precedes its commitment.
    """
    if ceremony_at < now - CLOCK_TOLERANCE:
        raise InvalidInput(
            f"摇号仪式时间 {beijing(ceremony_at)} 早于冻结时间 {beijing(now)}："
            "随机种子必须在冻结（公开承诺）之后产生，请填写仪式的实际时间",
            code="ceremony_before_commitment",
        )
    return max(ceremony_at, now)


def unique_witnesses(witnesses: list[str]) -> list[str]:
    """The witnesses, each once."""
    if len(set(witnesses)) != len(witnesses):
        raise InvalidInput("见证人名单中有重复的姓名", code="witness_duplicate")
    return witnesses


def announced_start(announced: dict[str, Any]) -> datetime:
    """When the announced ceremony begins."""
    return parse_rfc3339(str(announced["ceremony_at"]))


def announced_window(announced: dict[str, Any]) -> tuple[datetime, datetime]:
    """When the digits may be entered and confirmed, as announced."""
    return announced_start(announced), parse_rfc3339(str(announced["digits_until"]))


def dice_announcement(
    source: str,
    ceremony_at: datetime,
    witnesses: list[str],
    *,
    now: datetime,
    window: timedelta,
) -> dict[str, Any]:
    """The commitment's words about a dice ceremony: when, until when, who witnesses."""
    start = ceremony_start(ceremony_at, now).replace(microsecond=0)
    return {
        "source": source,
        "ceremony_at": rfc3339(start),
        "digits_until": rfc3339(start + window),
        "witnesses": unique_witnesses(witnesses),
    }


def moved(announced: dict[str, Any], ceremony_at: datetime) -> dict[str, Any]:
    """The announcement with its ceremony moved, its window as long as before."""
    start, end = announced_window(announced)
    new_start = ceremony_at.replace(microsecond=0)
    return announced | {
        "ceremony_at": rfc3339(new_start),
        "digits_until": rfc3339(new_start + (end - start)),
    }


def describe_ceremony(announced: dict[str, Any]) -> str:
    """The ceremony as the public reads it."""
    return f"现场摇号（{beijing(announced_start(announced))}），见证人：{'、'.join(announced['witnesses'])}"
