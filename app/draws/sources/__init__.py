"""Seed sources: where a draw's public randomness comes from (spec section 4).

A source is an object with a few small methods: it turns the freeze request's
announcement into what the commitment publishes, moves a postponed ceremony,
describes itself to the public, and composes the seed value from what the
ceremony produced. The ceremony (app.draws.ceremony) runs the steps each
source needs, dice digits (entered and confirmed by two people) and/or a drand
beacon, in that order. A new source is one module here, listed in SOURCES,
plus its section of the spec; the standalone verifier learns it separately,
on purpose.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel

from app.draws.beacon import Beacon


class SourceName(StrEnum):
    DICE = "dice"
    DRAND = "drand"
    DICE_DRAND = "dice+drand"


class SeedSource(Protocol):
    """What the ceremony needs to know of a source."""

    name: SourceName
    uses_dice: bool  # digits read out at a public ceremony, entered and confirmed
    uses_beacon: bool  # a drand quicknet round announced at the freeze
    announcement: type[BaseModel]

    def announce(self, request: Any, *, now: datetime, window: timedelta) -> dict[str, Any]:
        """What the commitment publishes about the seed to come (digits within `window`)."""
        ...

    def reschedule(self, announced: dict[str, Any], ceremony_at: datetime) -> dict[str, Any]:
        """The announcement with its ceremony moved to `ceremony_at`."""
        ...

    def describe(self, announced: dict[str, Any]) -> str:
        """One Chinese sentence for the public pages."""
        ...

    def value(self, *, digits: str | None, beacon: Beacon | None) -> str:
        """The seed's value (spec section 4) from what the ceremony produced."""
        ...


def _sources() -> dict[str, SeedSource]:
    from app.draws.sources.dice import DICE
    from app.draws.sources.dice_drand import DICE_DRAND
    from app.draws.sources.drand import DRAND

    return {s.name.value: s for s in (DICE, DRAND, DICE_DRAND)}


SOURCES: dict[str, SeedSource] = _sources()


def source_named(name: str) -> SeedSource:
    """The source of this name."""
    return SOURCES[name]
