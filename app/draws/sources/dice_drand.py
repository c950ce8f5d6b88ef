"""`dice+drand`: dice digits fixed and logged before a later drand round (spec section 4).

Nobody at the ceremony knows the round's randomness when the digits are fixed,
and nobody can choose the beacon, so not even everyone at the ceremony together
can steer the tickets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.draws import beacon as quicknet
from app.draws.beacon import Beacon
from app.draws.sources import SourceName
from app.draws.sources.ceremony_time import (
    CeremonyAt,
    Witnesses,
    announced_window,
    describe_ceremony,
    dice_announcement,
    moved,
)
from app.draws.sources.drand import describe_round, round_announcement
from app.text import CleanInput
from app.types import rfc3339


class DiceDrandAnnouncement(CleanInput):
    """A dice ceremony, and the drand round after it whose beacon completes the seed."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["dice+drand"] = "dice+drand"
    ceremony_at: CeremonyAt
    witnesses: Witnesses
    round_delay_seconds: int = Field(
        default=1800,
        ge=120,
        le=2 * 3600,
        description="仪式开始后多久的 drand 轮次（缺省 30 分钟）；点数须在该轮发布前确认",
    )


class DiceDrand:
    name: SourceName = SourceName.DICE_DRAND
    uses_dice: bool = True
    uses_beacon: bool = True
    announcement: type[BaseModel] = DiceDrandAnnouncement

    def announce(self, request: Any, *, now: datetime, window: timedelta) -> dict[str, Any]:
        assert isinstance(request, DiceDrandAnnouncement)
        announced = dice_announcement(
            self.name, request.ceremony_at, request.witnesses, now=now, window=window
        )
        return self._round(announced, request.round_delay_seconds)

    def reschedule(self, announced: dict[str, Any], ceremony_at: datetime) -> dict[str, Any]:
        return self._round(moved(announced, ceremony_at), int(announced["round_delay_seconds"]))

    def describe(self, announced: dict[str, Any]) -> str:
        return f"{describe_ceremony(announced)}，再加 {describe_round(announced)}"

    def value(self, *, digits: str | None, beacon: Beacon | None) -> str:
        assert digits is not None and beacon is not None
        return f"{digits}:quicknet:{beacon.round}:{beacon.randomness}"

    @staticmethod
    def _round(announced: dict[str, Any], delay_seconds: int) -> dict[str, Any]:
        """The round after the ceremony; the digits must be fixed before its time."""
        start, end = announced_window(announced)
        round_ = quicknet.round_after(start, delay_seconds)
        beacon = round_announcement(round_)
        until = min(end, quicknet.round_time(round_) - timedelta(seconds=1))
        return (
            announced
            | beacon
            | {
                "round_delay_seconds": delay_seconds,
                "digits_until": rfc3339(until),
            }
        )


DICE_DRAND = DiceDrand()
