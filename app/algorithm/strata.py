"""Selecting a stratum's units (spec section 5).

>>> from app.algorithm.quotas import Quota
>>> s = Stratum("s", ["A", "B", "C"], [{}, {}, {}], Quota(count=2, ratio=None))
>>> [u["key"] for u in select(s, "seed")["selected"]] == [i for _, i in order("seed", "ABC")[:2]]
True
"""

from __future__ import annotations

from typing import Any

from app.algorithm.frame import Stratum
from app.algorithm.tickets import Ticketed, order, take


def select(stratum: Stratum, seed: str) -> dict[str, Any]:
    """The result object of one stratum: selected units in ticket order, and groups."""
    if stratum.by is None:
        chosen = take(seed, stratum.keys, stratum.quota.size(len(stratum.keys)))
        return {"id": stratum.id, "selected": _listed(chosen)}
    values = chosen_groups(stratum, seed)
    picked: list[Ticketed] = []
    for value in values:
        keys = stratum.groups[value]
        picked.extend(take(seed, keys, stratum.quota.size(len(keys))))
    # Tickets depend on the seed and the key alone, so the union of the groups'
    # picks sorts into the single ticket order the spec lists a stratum in.
    return {"id": stratum.id, "groups": values, "selected": _listed(sorted(picked))}


def chosen_groups(stratum: Stratum, seed: str) -> list[str]:
    """The group values a per_group stratum draws from, in ticket order."""
    prefix = f"group:{stratum.id}:"
    ranked = order(seed, [prefix + value for value in stratum.groups])
    if stratum.max_groups is not None:
        ranked = ranked[: stratum.max_groups]
    return [group_id[len(prefix) :] for _, group_id in ranked]


def _listed(chosen: list[Ticketed]) -> list[dict[str, str]]:
    """Chosen units as the result lists them."""
    return [{"key": key, "ticket": ticket} for ticket, key in chosen]
