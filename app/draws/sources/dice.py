"""`dice`: digits read out at a public ceremony, entered by an operator, confirmed by a witness."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from app.draws.beacon import Beacon
from app.draws.sources import SourceName
from app.draws.sources.ceremony_time import (
    CeremonyAt,
    Witnesses,
    describe_ceremony,
    dice_announcement,
    moved,
)
from app.text import CleanInput


class DiceAnnouncement(CleanInput):
    """A public dice ceremony: when, and who witnesses it."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["dice"] = "dice"
    ceremony_at: CeremonyAt
    witnesses: Witnesses


class Dice:
    name: SourceName = SourceName.DICE
    uses_dice: bool = True
    uses_beacon: bool = False
    announcement: type[BaseModel] = DiceAnnouncement

    def announce(self, request: Any, *, now: datetime, window: timedelta) -> dict[str, Any]:
        assert isinstance(request, DiceAnnouncement)
        return dice_announcement(
            self.name, request.ceremony_at, request.witnesses, now=now, window=window
        )

    def reschedule(self, announced: dict[str, Any], ceremony_at: datetime) -> dict[str, Any]:
        return moved(announced, ceremony_at)

    def describe(self, announced: dict[str, Any]) -> str:
        return describe_ceremony(announced)

    def value(self, *, digits: str | None, beacon: Beacon | None) -> str:
        assert digits is not None
        return digits


DICE = Dice()
