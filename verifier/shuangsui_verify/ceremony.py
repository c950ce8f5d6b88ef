"""The ceremony as the log tells it (transparency-log.md section 4), and the drand beacon."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from .checks import Report

QUICKNET_GENESIS, QUICKNET_PERIOD = 1692803367, 3


def at(entry: dict[str, Any], field: str = "at") -> datetime:
    return datetime.fromisoformat(str(entry[field]).replace("Z", "+00:00"))


def round_time(round_: int) -> datetime:
    return datetime.fromtimestamp(QUICKNET_GENESIS + (round_ - 1) * QUICKNET_PERIOD, UTC)


def check_ceremony(report: Report, seed: str, entries: list[dict[str, Any]]) -> None:
    """Commitment before the announced time, digits inside the announced window, the
    dice before the drand round, the round after the commitment and before the seed."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_kind.setdefault(entry["kind"], []).append(entry)
    commitment = next(iter(by_kind.get("commitment") or []), None)
    seeds = by_kind.get("seed") or []
    if commitment is None or not seeds:
        return  # reported by check_log already
    source = seed.partition("/")[0]
    announced = dict(commitment.get("seed_source") or {})
    report.check(
        announced.get("source") == source,
        "种子来源与承诺一致",
        "the seed comes from the source announced",
        f"announced {announced.get('source')}, seed {source}",
    )
    committed = at(commitment)
    if "ceremony_at" in announced:
        fine, why = True, ""
        for moved in by_kind.get("reschedule") or []:
            if not at(moved) < at(announced, "ceremony_at"):
                fine, why = False, f"reschedule at {moved['at']} after {announced['ceremony_at']}"
            announced |= {
                k: moved[k] for k in ("ceremony_at", "digits_until", "round") if k in moved
            }
        report.check(fine, "改期均在原定时间之前", "every postponement came before its time", why)
        start = at(announced, "ceremony_at")
        until = at(announced, "digits_until") if "digits_until" in announced else None
        report.check(
            committed <= start,
            "承诺早于公告的摇号时间",
            "the commitment precedes the announced ceremony",
            f"{commitment['at']} > {announced['ceremony_at']}",
        )
        fixed = (by_kind.get("dice") or seeds)[0] if source == "dice+drand" else seeds[0]
        report.check(
            until is not None and start <= at(fixed) <= until,
            "骰子点数在公告的时间内确认",
            "the digits were confirmed within the announced window",
            f"{fixed['at']} not in [{announced.get('ceremony_at')}, {announced.get('digits_until')}]",
        )
        if source == "dice+drand":
            digits = seed.split("/")[1].split(":")[0]
            report.check(
                bool(by_kind.get("dice")) and fixed.get("digits") == digits,
                "日志中的骰子点数即种子中的点数",
                "the digits logged are those in the seed",
            )
    if source in ("drand", "dice+drand"):
        round_ = int(seed.split("/")[1].split(":")[-2])
        published = round_time(round_)
        report.check(
            round_ == announced.get("round"),
            "使用的是承诺时约定的 drand 轮次",
            "the drand round is the one announced",
            f"{round_} != {announced.get('round')}",
        )
        before = at(by_kind["dice"][0]) if by_kind.get("dice") else committed
        report.check(
            before < published <= at(seeds[0]),
            "drand 轮次晚于承诺（及骰子点数），早于种子",
            "the drand round comes after the commitment (and the dice), before the seed",
            f"round time {published.isoformat()}",
        )
        check_beacon(report, seeds[0], seed)


def check_beacon(report: Report, seed_entry: dict[str, Any], seed: str) -> None:
    """The beacon's randomness is SHA-256 of its signature, and the signature is quicknet's."""
    beacon = seed_entry.get("beacon") or {}
    randomness = seed.split("/")[1].split(":")[-1]
    try:
        signature = bytes.fromhex(str(beacon.get("signature", "")))
    except ValueError:
        signature = b""
    report.check(
        bool(signature)
        and hashlib.sha256(signature).hexdigest() == randomness
        and beacon.get("randomness") == randomness,
        "drand 随机数是其签名的哈希",
        "the beacon's randomness is the hash of its signature",
    )
    try:
        import drand_verify
    except ImportError:
        print(
            "· drand 信标的 BLS 签名未检查：请 pip install drand-verify 后重新运行"
            " / the beacon's BLS signature is not checked: install drand-verify"
        )
        return
    try:
        drand_verify.verify_quicknet(int(beacon["round"]), beacon["signature"])
        valid = True
    except (ValueError, KeyError, TypeError):
        valid = False
    report.check(valid, "drand 信标的 BLS 签名有效", "the beacon's BLS signature is quicknet's")
