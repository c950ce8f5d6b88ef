"""The checks of a bundle: the seed, the recomputed result, the log's signed entries."""

from __future__ import annotations

import base64
from typing import Any

from .canonical import jcs, sha256_hex
from .draw import Refused, draw
from .merkle import verify_inclusion
from .policy import Accepted, Policy, accept


class Report:
    def __init__(self) -> None:
        self.ok = True

    def check(self, holds: bool, zh: str, en: str, why: str = "") -> bool:
        self.ok = self.ok and holds
        mark = "✓" if holds else "✗"
        print(f"{mark} {zh} / {en}" + (f": {why}" if why and not holds else ""))
        return holds


def _dice_ok(value: str) -> bool:
    return value.isdigit() and value.isascii() and len(value) >= 20


def _drand_ok(value: str) -> bool:
    parts = value.split(":")
    return (
        len(parts) == 3
        and parts[0] == "quicknet"
        and parts[1].isascii()
        and parts[1].isdigit()
        and not parts[1].startswith("0")
        and len(parts[2]) == 64
        and all(c in "0123456789abcdef" for c in parts[2])
    )


def check_seed(report: Report, seed: str, frame_hash: str) -> None:
    source, _, rest = seed.partition("/")
    value, _, bound = rest.rpartition("/")
    fine = bound == frame_hash
    if source == "dice":
        fine = fine and _dice_ok(value)
    elif source == "drand":
        fine = fine and _drand_ok(value)
    elif source == "dice+drand":
        digits, _, beacon = value.partition(":")
        fine = fine and _dice_ok(digits) and _drand_ok(beacon)
    else:
        fine = False
    report.check(fine, "种子绑定了框架哈希", "the seed embeds the frame hash", seed)


def check_result(report: Report, bundle: dict[str, Any], frame_hash: str) -> None:
    try:
        recomputed: dict[str, Any] | None = draw(bundle["frame"], bundle["seed"])
        refused, at_freeze = "", False
    except Refused as exc:
        recomputed, refused, at_freeze = None, str(exc), exc.at_freeze
    if at_freeze:
        report.check(False, "框架合规", "the frame is one that may be committed", refused)
        return
    if bundle.get("result") is None:
        report.check(
            recomputed is None,
            "重算同样失败",
            "recomputation fails the same way",
            refused or "it succeeded",
        )
        return
    assert recomputed is not None or refused
    same = recomputed is not None and jcs(recomputed) == jcs(bundle["result"])
    why = refused or _first_difference(recomputed, bundle["result"])
    report.check(
        same, "重算结果与公布结果一致", "the recomputed result equals the published one", why
    )
    if "result_hash" in bundle:
        report.check(
            sha256_hex(jcs(bundle["result"])) == bundle["result_hash"]
            and recomputed is not None
            and recomputed["frame_hash"] == frame_hash,
            "结果哈希一致",
            "the result hash matches",
        )


def _first_difference(mine: dict[str, Any] | None, published: dict[str, Any]) -> str:
    if mine is None:
        return "no result"
    for a, b in zip(mine["strata"], published.get("strata", []), strict=False):
        if a != b:
            return f"stratum {a['id']}: {[u['key'] for u in a['selected']]}"
    for field in ("assignments", "pairs", "seed", "frame_hash"):
        if mine.get(field) != published.get(field):
            return field
    return "shape"


def check_log(
    report: Report, bundle: dict[str, Any], policy: Policy, frame_hash: str
) -> tuple[int, bytes] | None:
    """The bundle's entries are in the signed checkpoint; returns its size and root."""
    log = bundle["log"]
    try:
        accepted = accept(log["checkpoint"], policy)
    except ValueError as exc:  # any failure to verify is a failed check
        report.check(False, "检查点签名有效", "the checkpoint signature verifies", str(exc))
        return None
    report.check(True, "检查点签名有效", "the checkpoint signature verifies")
    say_cosigned(report, policy, accepted)
    origin, size, root = (
        accepted.checkpoint.origin,
        accepted.checkpoint.size,
        accepted.checkpoint.root,
    )
    report.check(
        origin == log["origin"]
        and size == log["tree_size"]
        and base64.b64encode(root).decode() == log["root_hash"],
        "检查点与日志信息一致",
        "the checkpoint matches the log's origin, size and root",
    )
    entries = log["entries"]
    for item in entries:
        data = base64.b64decode(item["entry_b64"])
        proof = [base64.b64decode(p) for p in item["inclusion_proof"]]
        report.check(
            data == jcs(item["entry"]) and verify_inclusion(data, item["index"], size, proof, root),
            f"第 {item['index']} 条日志条目在检查点中",
            f"log entry {item['index']} is included in the checkpoint",
        )
    kinds = {item["entry"]["kind"]: item for item in entries}
    commitment, seed_entry = kinds.get("commitment"), kinds.get("seed")
    report.check(
        commitment is not None and commitment["entry"].get("frame_hash") == frame_hash,
        "承诺条目记录了该框架哈希",
        "the commitment entry records this frame hash",
    )
    report.check(
        commitment is not None
        and seed_entry is not None
        and commitment["index"] < seed_entry["index"]
        and seed_entry["entry"].get("seed") == bundle["seed"],
        "承诺先于种子记入日志",
        "the commitment precedes the seed in the log",
    )
    if bundle.get("result") is not None:
        result_entry = kinds.get("result")
        report.check(
            result_entry is not None
            and result_entry["entry"].get("result_hash") == sha256_hex(jcs(bundle["result"])),
            "结果条目记录了该结果哈希",
            "the result entry records this result's hash",
        )
        if result_entry is not None:
            check_result_entry(report, result_entry["entry"], bundle["result"])
    return size, root


def check_result_entry(report: Report, entry: dict[str, Any], result: dict[str, Any]) -> None:
    """The result entry names who was drawn, or (a result too large for one entry of
    65,535 bytes) how many per stratum, the full result being checked by its hash above."""
    strata = result.get("strata", [])
    named = {
        "selected": {s["id"]: [u["key"] for u in s["selected"]] for s in strata},
        "assignments": result.get("assignments"),
        "pairs": result.get("pairs"),
    }
    if "counts" not in entry:
        report.check(
            all(entry.get(k) == v for k, v in named.items()),
            "结果条目列出的抽中对象与结果一致",
            "the result entry names the units drawn",
        )
        return
    head = {k: entry.get(k) for k in ("kind", "at", "draw", "result_hash")}
    report.check(
        entry == head | {"counts": {s["id"]: len(s["selected"]) for s in strata}}
        # Only a result that cannot be named within one entry may be logged as counts.
        and len(jcs(head | named)) > 0xFFFF,
        "结果条目所记各层抽中数与结果一致（结果过大，完整结果以哈希核对）",
        "the result entry's counts match a result too large to name in one entry",
    )


def say_cosigned(report: Report, policy: Policy, accepted: Accepted) -> None:
    """Name the witnesses whose cosignatures verified, when the policy knows any."""
    if policy.witnesses:
        names = "、".join(sorted(accepted.cosigned)) or "无 / none"
        report.check(
            True,
            f"检查点已由见证人联署（{names}），满足信任策略的法定数",
            f"the checkpoint is cosigned by a quorum of the policy's witnesses ({names})",
        )
