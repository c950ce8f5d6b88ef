"""The draw's standing and the whole log: every entry read back, none left out."""

from __future__ import annotations

import base64
import json
import urllib.request
from collections.abc import Callable
from typing import Any

from .canonical import jcs
from .checks import Report
from .merkle import leaf, tree_root
from .policy import Policy, accept

Fetch = Callable[[str], bytes]


def read_log(
    report: Report, fetch: Fetch, base: str, policy: Policy, size: int, root: bytes
) -> list[dict[str, Any]] | None:
    """Every entry of the log up to its latest checkpoint, checked against that checkpoint's
    root and against the bundle's (so the log the bundle saw is a prefix of today's).
    The latest checkpoint needs the log's signature only: witnesses cosign it later."""
    base = base.rstrip("/")
    newest = accept(fetch(f"{base}/api/v1/log/checkpoint").decode(), policy.log_only()).checkpoint
    latest, latest_root = newest.size, newest.root
    report.check(
        latest >= size,
        "日志最新检查点不小于验证包的检查点",
        "the log's latest checkpoint is no smaller than the bundle's",
        f"{latest} < {size}",
    )
    entries: list[dict[str, Any]] = []
    while len(entries) < latest:
        start = len(entries)
        page = json.loads(fetch(f"{base}/api/v1/log/entries?start={start}&end={latest}"))
        items = page.get("entries") or []
        if not items:
            break
        for item in items:
            data = base64.b64decode(item["entry_b64"])
            if item["index"] != len(entries) or data != jcs(item["entry"]):
                report.check(
                    False, "日志条目可读", "the log's entries read back", str(item["index"])
                )
                return None
            entries.append(item)
    leaves = [leaf(base64.b64decode(e["entry_b64"])) for e in entries]
    holds = len(entries) == latest >= size and tree_root(leaves[:size]) == root
    report.check(
        holds,
        f"日志前 {size} 条的根哈希与验证包的检查点一致",
        f"the first {size} entries of the log hash to the bundle's checkpoint root",
    )
    current = holds and tree_root(leaves) == latest_root
    report.check(
        current,
        f"日志全部 {latest} 条的根哈希与最新检查点一致",
        f"all {latest} entries of the log hash to its latest checkpoint's root",
    )
    return entries if current else None


def check_complete(
    report: Report, bundle: dict[str, Any], log_entries: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Every entry about this draw is in the bundle; returns the log's view of the draw."""
    draw = bundle["draw"]
    shown = {item["index"]: item["entry_b64"] for item in bundle["log"]["entries"]}
    mine = [e for e in log_entries if e["entry"].get("draw") == draw]
    for item in mine:
        report.check(
            shown.get(item["index"]) == item["entry_b64"],
            f"第 {item['index']} 条（{item['entry']['kind']}）包含在验证包中",
            f"log entry {item['index']} ({item['entry']['kind']}) is in the bundle",
            "the bundle leaves it out",
        )
    return mine


def standing(
    report: Report, bundle: dict[str, Any], entries: list[dict[str, Any]], replaced_by: str | None
) -> bool:
    """Print whether the draw stands; False when annulled or failed."""
    kinds = {e["kind"]: e for e in entries}
    status = bundle.get("status")
    logged = "annulled" if "annulment" in kinds else "failed" if "failure" in kinds else None
    if status in ("annulled", "failed") or logged is not None:
        report.check(
            status == logged,
            "验证包所述状态与日志一致",
            "the bundle's status agrees with the log",
            f"bundle says {status}, the log {logged or 'neither annulled nor failed'}",
        )
    if "annulment" in kinds:
        annulment = kinds["annulment"]
        then = f"，已由 {replaced_by} 替代 / replaced by {replaced_by}" if replaced_by else ""
        print(
            f"! 本次抽查已于 {annulment['at']} 撤销 / this draw was ANNULLED："
            f"{annulment.get('reason')}（决定：{annulment.get('decided_by')}）{then}"
        )
        return False
    if "failure" in kinds:
        error = kinds["failure"].get("error") or {}
        print(f"! 本次抽查未能完成 / this draw FAILED：{error.get('message', error)}")
        return False
    return True


def load(source: str) -> dict[str, Any]:
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=30) as response:  # noqa: S310 - an auditor's URL
            data: dict[str, Any] = json.load(response)
            return data
    with open(source, encoding="utf-8") as handle:
        data = json.load(handle)
        return data
