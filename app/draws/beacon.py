"""drand quicknet: the public randomness beacon a draw may take its seed from.

The round is fixed when the frame is frozen (a round whose time is still in the
future), fetched after its time, and its BLS signature verified with
`drand_verify` against the League of Entropy quicknet key, so nobody — not the
bureau — can choose the value.
"""

from __future__ import annotations

from datetime import UTC, datetime

import drand_verify
import httpx
from pydantic import ConfigDict, Field

from app.errors import DomainError, InvalidInput
from app.text import CleanInput

QUICKNET_CHAIN_HASH = "52db9ba70e0cc0f6eaf7803dd07447a1f5477735fd3f661792ba94600c84e971"
QUICKNET_GENESIS = 1692803367  # unix seconds of round 1
QUICKNET_PERIOD = 3  # seconds between rounds
RELAYS = ("https://api.drand.sh", "https://drand.cloudflare.com")


class BeaconUnavailable(DomainError):
    status = 503
    code = "beacon_unavailable"
    title = "暂时无法获取 drand 随机信标"


class BeaconNotYet(DomainError):
    status = 409
    code = "beacon_not_yet"
    title = "约定的 drand 轮次尚未到来"


class Beacon(CleanInput):
    """One quicknet round as drand publishes it (fetched by the service or supplied)."""

    model_config = ConfigDict(extra="forbid")

    round: int = Field(ge=1, le=2**53)
    randomness: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(pattern=r"^[0-9a-f]{96}$")


def round_time(round_: int) -> datetime:
    """When a quicknet round is published."""
    return datetime.fromtimestamp(QUICKNET_GENESIS + (round_ - 1) * QUICKNET_PERIOD, UTC)


def round_after(moment: datetime, delay_seconds: int) -> int:
    """The first round published at least `delay_seconds` after `moment`."""
    target = int(moment.timestamp()) + delay_seconds
    elapsed = target - QUICKNET_GENESIS
    return max(1, -(-elapsed // QUICKNET_PERIOD) + 1)


def verify(beacon: Beacon) -> None:
    """Raise unless the signature is the quicknet network's for this round and value."""
    try:
        randomness = drand_verify.verify_quicknet(beacon.round, beacon.signature)
    except ValueError as exc:
        raise InvalidInput(
            f"drand 第 {beacon.round} 轮的签名验证失败：该信标不是 quicknet 网络发布的",
            code="beacon_invalid",
        ) from exc
    if randomness != beacon.randomness:
        raise InvalidInput(f"drand 第 {beacon.round} 轮的随机数与签名不符", code="beacon_invalid")


def fetch(round_: int) -> Beacon:
    """Fetch a published round from the public relays."""
    errors = []
    for relay in RELAYS:
        url = f"{relay}/{QUICKNET_CHAIN_HASH}/public/{round_}"
        try:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            data = response.json()
            return Beacon(
                round=int(data["round"]), randomness=data["randomness"], signature=data["signature"]
            )
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            errors.append(f"{relay}: {exc}")
    raise BeaconUnavailable(
        f"无法从公共中继获取第 {round_} 轮信标；可从任一 drand 中继取得后随请求提交。"
        + "；".join(errors)
    )
