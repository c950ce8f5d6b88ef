"""draw/1 (draw-algorithm.md): tickets, strata, teams and cross pairs, recomputed."""

from __future__ import annotations

import hashlib
from fractions import Fraction
from typing import Any

from .canonical import jcs, sha256_hex


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
