#!/usr/bin/env python3
"""Verify a 双随机、一公开 draw from its published bundle — independently of the service.

    python verify.py BUNDLE.json|URL [--key VERIFIER_KEY] [--draw-only]

Everything here is written from the two public specifications (draw-algorithm.md,
version draw/1, and transparency-log.md) using only Python's standard library;
the Ed25519 signature of the log's checkpoint needs the `cryptography` package.
It imports nothing of the service. Each check prints one line, in Chinese and
English; the exit code is 0 only when every check holds (1 otherwise, 2 when the
input cannot be read).
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


def check_log(report: Report, bundle: dict[str, Any], key: str, frame_hash: str) -> None:
    log = bundle["log"]
    try:
        origin, size, root = open_checkpoint(log["checkpoint"], key)
        signed = True
    except Exception as exc:  # any failure to verify is a failed check
        report.check(False, "检查点签名有效", "the checkpoint signature verifies", str(exc))
        return
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
    if bundle["seed"].startswith("drand/") and commitment is not None:
        round_ = int(bundle["seed"].split(":")[1])
        published = datetime.fromtimestamp(1692803367 + (round_ - 1) * 3, UTC)
        committed = datetime.fromisoformat(commitment["entry"]["at"].replace("Z", "+00:00"))
        report.check(
            published > committed,
            "drand 轮次晚于承诺",
            "the drand round comes after the commitment",
        )
        print("· drand 信标的 BLS 签名未在此检查 / the beacon's BLS signature is not checked here")


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
        check_log(report, bundle, key, frame_hash)
    print("通过 / PASSED" if report.ok else "未通过 / FAILED")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
