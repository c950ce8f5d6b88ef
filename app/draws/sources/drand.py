"""`drand`: a quicknet round fixed at the freeze, taken once it is published."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.draws import beacon as quicknet
from app.draws.beacon import Beacon
from app.draws.sources import SourceName
from app.text import CleanInput
from app.types import beijing, parse_rfc3339, rfc3339


class DrandAnnouncement(CleanInput):
    """A future drand quicknet round, fixed now, fetched after its time."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["drand"] = "drand"
    delay_seconds: int = Field(default=120, ge=30, le=7 * 24 * 3600, description="冻结后多久的轮次")


def round_announcement(round_: int) -> dict[str, Any]:
    """The commitment's words about a drand round."""
    return {
        "chain": quicknet.QUICKNET_CHAIN_HASH,
        "round": round_,
        "round_time": rfc3339(quicknet.round_time(round_)),
    }


def describe_round(announced: dict[str, Any]) -> str:
    """The round as the public reads it."""
    published = beijing(parse_rfc3339(str(announced["round_time"])))
    return f"drand quicknet 公共随机信标第 {announced['round']} 轮（{published} 发布）"


class Drand:
    name: SourceName = SourceName.DRAND
    uses_dice: bool = False
    uses_beacon: bool = True
    announcement: type[BaseModel] = DrandAnnouncement

    def announce(self, request: Any, *, now: datetime, window: timedelta) -> dict[str, Any]:
        assert isinstance(request, DrandAnnouncement)
        round_ = quicknet.round_after(now, request.delay_seconds)
        return {"source": self.name.value} | round_announcement(round_)

    def reschedule(self, announced: dict[str, Any], ceremony_at: datetime) -> dict[str, Any]:
        raise AssertionError("a drand round has no ceremony to move")

    def describe(self, announced: dict[str, Any]) -> str:
        return describe_round(announced)

    def value(self, *, digits: str | None, beacon: Beacon | None) -> str:
        assert beacon is not None
        return f"quicknet:{beacon.round}:{beacon.randomness}"


DRAND = Drand()
