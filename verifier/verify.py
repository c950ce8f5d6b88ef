#!/usr/bin/env python3
"""Verify a 双随机、一公开 draw from its published bundle — independently of the service.

    python verify.py BUNDLE.json|URL [--key VERIFIER_KEY] [--log BASE_URL] [--draw-only]

Everything here is written from the two public specifications (draw-algorithm.md,
version draw/1, and transparency-log.md) using only Python's standard library;
the Ed25519 signature of the log's checkpoint needs the `cryptography` package,
and a drand beacon's BLS signature is checked when `drand_verify` is installed.
It imports nothing of the service. Each check prints one line, in Chinese and
English. Exit code: 0 when every check holds and the draw stands; 1 when a check
fails; 2 when the input cannot be read; 3 when every check holds but the draw
was annulled or failed (the reason is printed).

With --log, the whole log up to the bundle's checkpoint is read from the
service (or a copy of it), its root recomputed, and every entry about this draw
must be in the bundle: a bundle cannot hide an annulment or a second seed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import urllib.request
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

# --- canonical JSON (RFC 8785) for the objects draws and logs use ---------------


def jcs(value: Any) -> bytes:
    """RFC 8785 bytes: keys sorted by UTF-16 code units, no spaces, integers only."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("floats do not occur in draws or log entries")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(k)}:{_jcs(value[k])}" for k in keys) + "}"
    raise ValueError(f"not JSON: {value!r}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- draw/1 ---------------------------------------------------------------------


class Refused(Exception):
    """The frame must be refused (spec sections 3, 5), or the draw cannot complete (6, 7)."""

    def __init__(self, message: str, *, at_freeze: bool = True) -> None:
        super().__init__(message)
        self.at_freeze = at_freeze  # False: a logged failure of the draw itself, not of the frame


def ticket(seed: str, id_: str) -> str:
    """Section 1: "0." + the decimal digits of SHA-256(seed_hash + id), reversed."""
    seed_hash = hashlib.sha256(seed.encode()).hexdigest()
    n = int.from_bytes(hashlib.sha256((seed_hash + id_).encode()).digest(), "big")
    return "0." + str(n).zfill(64)[::-1]


def take(seed: str, ids: list[str], k: int) -> list[tuple[str, str]]:
    """The first k ids in (ticket, id) order, with their tickets."""
    ranked = sorted((ticket(seed, i), i) for i in ids)
    return [(i, t) for t, i in ranked[:k]]


def ceil_ratio(n: int, ratio: str) -> int:
    """ceil(n × p) in exact decimal arithmetic."""
    product = n * Fraction(ratio)
    return -(-product.numerator // product.denominator)


def select_stratum(seed: str, stratum: dict[str, Any]) -> dict[str, Any]:
    """Section 5: one stratum's selected units (and chosen groups)."""
    keys = [u["key"] for u in stratum["units"]]
    sid = stratum["id"]
    if "per_group" not in stratum or stratum["per_group"] is None:
        k = (
            stratum["count"]
            if stratum.get("count") is not None
            else ceil_ratio(len(keys), stratum["ratio"])
        )
        if k > len(keys):
            raise Refused(f"{sid}: quota {k} > {len(keys)} units")
        chosen = take(seed, keys, k)
        return {"id": sid, "selected": [{"key": i, "ticket": t} for i, t in chosen]}
    rule = stratum["per_group"]
    groups: dict[str, list[str]] = {}
    for unit in stratum["units"]:
        groups.setdefault(str(unit["attrs"][rule["by"]]), []).append(unit["key"])
    sizes = {
        value: rule["count"]
        if rule.get("count") is not None
        else ceil_ratio(len(members), rule["ratio"])
        for value, members in groups.items()
    }
    for value, members in groups.items():
        if sizes[value] > len(members):
            raise Refused(f"{sid}: group {value}: quota {sizes[value]} > {len(members)} units")
    m = rule.get("max_groups") or len(groups)
    if m > len(groups):
        raise Refused(f"{sid}: {m} groups asked, {len(groups)} present")
    by_id = {f"group:{sid}:{value}": value for value in groups}
    chosen_groups = [by_id[g] for g, _ in take(seed, list(by_id), m)]
    selected = [pair for value in chosen_groups for pair in take(seed, groups[value], sizes[value])]
    selected.sort(key=lambda pair: (pair[1], pair[0]))
    return {
        "id": sid,
        "selected": [{"key": i, "ticket": t} for i, t in selected],
        "groups": chosen_groups,
    }


def assign(seed: str, frame: dict[str, Any], strata: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Section 6: teams, units served in result order."""
    rules = frame["inspectors"]
    units = {u["key"]: u for s in frame["strata"] for u in s["units"]}
    conflicts = {(c[0], c[1]) for c in rules.get("conflicts") or []}
    differ_on = rules.get("differ_on") or []
    lead_units = rules.get("lead_units")
    cap = rules.get("max_per_inspector")
    size = rules["team_size"]
    load: dict[str, int] = {}
    out = []
    for stratum in strata:
        for chosen in stratum["selected"]:
            unit = units[chosen["key"]]
            candidates = [
                i
                for i in rules["pool"]
                if (unit["key"], i["key"]) not in conflicts
                and all(i["attrs"].get(a) != unit["attrs"].get(a) for a in differ_on)
                and (cap is None or load.get(i["key"], 0) < cap)
            ]
            ids = [f"inspector:{unit['key']}:{c['key']}" for c in candidates]
            ranked = [i for i, _ in take(seed, ids, len(ids))]
            order = [r.split(":", 2)[2] for r in ranked]
            unit_of = {c["key"]: c["attrs"].get("unit") for c in candidates}
            team: list[str] = []
            if lead_units:
                lead = next((k for k in order if unit_of[k] in lead_units), None)
                if lead is None:
                    raise Refused(f"unit {unit['key']}: no lead available", at_freeze=False)
                team.append(lead)
            team += [k for k in order if k not in team][: size - len(team)]
            if len(team) < size:
                raise Refused(
                    f"unit {unit['key']}: only {len(team)} of {size} inspectors", at_freeze=False
                )
            for k in team:
                load[k] = load.get(k, 0) + 1
            out.append({"unit": unit["key"], "inspectors": team})
    return out


def pair(seed: str, cross: dict[str, Any]) -> list[dict[str, str]]:
    """Section 7: the first attempt in which no team gets its home county."""
    teams = sorted(cross["teams"], key=lambda t: t["key"])
    for attempt in range(1000):
        ranked = take(
            seed, [f"cross:{attempt}:{t}" for t in cross["targets"]], len(cross["targets"])
        )
        targets = [r.split(":", 2)[2] for r, _ in ranked]
        if all(t["home"] != target for t, target in zip(teams, targets, strict=True)):
            return [
                {"team": t["key"], "target": target}
                for t, target in zip(teams, targets, strict=True)
            ]
    raise Refused("no derangement within 1000 attempts", at_freeze=False)


def draw(frame: dict[str, Any], seed: str) -> dict[str, Any]:
    """The result object of section 8, or Refused."""
    keys = [u["key"] for s in frame["strata"] for u in s["units"]]
    members = [
        m for s in frame["strata"] for u in s["units"] for m in u["attrs"].get("members", [])
    ]
    if len(set(keys + members)) != len(keys + members):
        raise Refused("unit keys are not unique")
    strata = [select_stratum(seed, s) for s in frame["strata"]]
    return {
        "algorithm": "draw/1",
        "frame_hash": sha256_hex(jcs(frame)),
        "seed": seed,
        "strata": strata,
        "assignments": assign(seed, frame, strata) if frame.get("inspectors") else None,
        "pairs": pair(seed, frame["cross"]) if frame.get("cross") else None,
    }


# --- the log: RFC 9162 proofs and C2SP signed checkpoints -------------------------


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(entry: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + entry).digest()
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def open_checkpoint(note: str, key: str) -> tuple[str, int, bytes]:
    """Check the C2SP signed note with the verifier key; return origin, size, root."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    name, key_hash, key_b64 = key.split("+", 2)
    raw = base64.b64decode(key_b64)
    if (
        raw[:1] != b"\x01"
        or hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != key_hash
    ):
        raise ValueError("malformed verifier key")
    text, _, signatures = note.rpartition("\n\n")
    text += "\n"
    for line in signatures.splitlines():
        signer, _, blob_b64 = line.removeprefix("\u2014 ").partition(" ")
        blob = base64.b64decode(blob_b64)
        if signer == name and blob[:4].hex() == key_hash:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[4:], text.encode())
            origin, size, root = text.split("\n")[:3]
            return origin, int(size), base64.b64decode(root)
    raise ValueError("no signature by this key")


# --- the checks -------------------------------------------------------------------


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
    report: Report, bundle: dict[str, Any], key: str, frame_hash: str
) -> tuple[int, bytes] | None:
    """The bundle's entries are in the signed checkpoint; returns its size and root."""
    log = bundle["log"]
    try:
        origin, size, root = open_checkpoint(log["checkpoint"], key)
        signed = True
    except Exception as exc:  # any failure to verify is a failed check
        report.check(False, "检查点签名有效", "the checkpoint signature verifies", str(exc))
        return None
    report.check(signed, "检查点签名有效", "the checkpoint signature verifies")
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


# --- the ceremony as the log tells it (spec section 4) -----------------------------

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


# --- the draw's standing, and the whole log ---------------------------------------


def fetch(url: str) -> bytes:
    """GET a document (replaceable, for a copy of the log kept elsewhere)."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - an auditor's URL
        data: bytes = response.read()
        return data


def tree_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH of the leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node(tree_root(leaves[:split]), tree_root(leaves[split:]))


def read_log(
    report: Report, base: str, key: str, size: int, root: bytes
) -> list[dict[str, Any]] | None:
    """Every entry of the log up to its latest checkpoint, checked against that checkpoint's
    root and against the bundle's (so the log the bundle saw is a prefix of today's)."""
    base = base.rstrip("/")
    _, latest, latest_root = open_checkpoint(fetch(f"{base}/api/v1/log/checkpoint").decode(), key)
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
    leaves = [hashlib.sha256(b"\x00" + base64.b64decode(e["entry_b64"])).digest() for e in entries]
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="独立验证一次“双随机”抽查 / verify a draw independently"
    )
    parser.add_argument("bundle", help="验证包文件或网址 / bundle file or URL")
    parser.add_argument(
        "--key", help="日志公钥（应独立取得）/ the log's verifier key, obtained independently"
    )
    parser.add_argument(
        "--log",
        metavar="BASE_URL",
        help="服务网址（应独立取得），读取整个日志核对验证包是否完整"
        " / the service's base URL, obtained independently: read the log and check"
        " that the bundle leaves nothing out",
    )
    parser.add_argument(
        "--draw-only",
        action="store_true",
        help="只核对 frame、seed、result / only frame, seed, result",
    )
    args = parser.parse_args(argv)
    try:
        bundle = load(args.bundle)
        frame = bundle["frame"]
        frame_hash = sha256_hex(jcs(frame))
    except (OSError, ValueError, KeyError) as exc:
        print(f"✗ 无法读取验证包 / cannot read the bundle: {exc}")
        return 2
    report = Report()
    stands = True
    report.check(
        bundle.get("frame_hash", frame_hash) == frame_hash,
        "框架哈希一致",
        "the frame hash matches",
        frame_hash,
    )
    check_seed(report, bundle.get("seed") or "", frame_hash)
    check_result(report, bundle, frame_hash)
    if not args.draw_only:
        key = args.key
        if key is None:
            key = bundle["log"]["verifier_key"]
            print(
                "! 未独立指定日志公钥，使用验证包自带的公钥 / the log key was not pinned independently"
            )
        stands = check_story(report, bundle, key, frame_hash, args.log)
    if not report.ok:
        print("未通过 / FAILED")
        return 1
    if not stands:
        print("各项检查通过，但该抽查不成立 / every check holds, but the draw does not stand")
        return 3
    print("通过 / PASSED")
    return 0


def check_story(
    report: Report, bundle: dict[str, Any], key: str, frame_hash: str, log_url: str | None
) -> bool:
    """The log's part: entries, ceremony, completeness and standing; False if the draw
    does not stand."""
    signed = check_log(report, bundle, key, frame_hash)
    entries = [item["entry"] for item in bundle["log"]["entries"]]
    replaced_by = bundle.get("replaced_by")
    if log_url is not None and signed is not None:
        try:
            log_entries = read_log(report, log_url, key, *signed)
        except Exception as exc:  # unreadable or unsigned: a failed check, never a crash
            report.check(
                False, "读取日志", "the log can be read and its checkpoint verifies", str(exc)
            )
            log_entries = None
        if log_entries is not None:
            entries = [item["entry"] for item in check_complete(report, bundle, log_entries)]
            replaced_by = next(
                (
                    item["entry"]["draw"]
                    for item in log_entries
                    if item["entry"].get("kind") == "commitment"
                    and item["entry"].get("replaces") == bundle["draw"]
                ),
                None,
            )
    elif replaced_by:
        print("· 替代关系取自验证包；用 --log 可从日志核对 / the replacement is as the bundle says")
    if bundle.get("seed"):
        check_ceremony(report, bundle["seed"], entries)
    return standing(report, bundle, entries, replaced_by)


if __name__ == "__main__":
    sys.exit(main())
