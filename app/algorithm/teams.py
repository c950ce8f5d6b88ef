"""Assigning inspectors to selected units (spec section 6).

>>> rules = Inspectors(
...     pool=[Inspector("I1", {"unit": "科"}), Inspector("I2", {}), Inspector("I3", {})],
...     team_size=2, max_per_inspector=None, lead_units=frozenset({"科"}),
...     differ_on=[], conflicts=frozenset({("U1", "I2")}))
>>> assign(rules, [("U1", {})], "seed")
[{'unit': 'U1', 'inspectors': ['I1', 'I3']}]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.algorithm import shape
from app.algorithm.errors import FrameInvalid, TeamIncomplete
from app.algorithm.tickets import order

_FIELDS = ("pool", "team_size")
_OPTIONAL = ("max_per_inspector", "lead_units", "differ_on", "conflicts")


@dataclass(frozen=True, slots=True)
class Inspector:
    """One inspector of the pool."""

    key: str
    attrs: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Inspectors:
    """The checked `frame.inspectors`; `max_per_inspector` None means no limit."""

    pool: list[Inspector]
    team_size: int
    max_per_inspector: int | None
    lead_units: frozenset[str] | None
    differ_on: list[str]
    conflicts: frozenset[tuple[str, str]]

    def is_lead(self, inspector: Inspector) -> bool:
        """Whether `inspector` may lead a team."""
        return self.lead_units is not None and inspector.attrs.get("unit") in self.lead_units

    def check_capacity(self, fewest_selected: int) -> None:
        """Refuse a pool that cannot staff even the smallest possible selection.

        Only a necessary condition: conflicts and differ_on can still leave one
        unit short, and that is reported by the draw as TeamIncomplete.
        """
        if self.max_per_inspector is None:
            return
        seats = len(self.pool) * self.max_per_inspector
        if fewest_selected * self.team_size > seats:
            raise FrameInvalid(
                "inspector_capacity",
                "inspectors.max_per_inspector",
                f"{fewest_selected} units x {self.team_size} inspectors need more than "
                f"{len(self.pool)} inspectors x {self.max_per_inspector} assignments",
            )
        leads = sum(1 for inspector in self.pool if self.is_lead(inspector))
        if self.lead_units is not None and fewest_selected > leads * self.max_per_inspector:
            raise FrameInvalid(
                "inspector_capacity",
                "inspectors.lead_units",
                f"{fewest_selected} units need a lead each; {leads} leads x "
                f"{self.max_per_inspector} assignments are not enough",
            )


def parse_inspectors(
    raw: Any,
    path: str,
    units: Iterable[tuple[str, Mapping[str, Any]]],
    is_unit: Callable[[str], bool],
) -> Inspectors:
    """The checked form of `frame.inspectors`; `units` are every unit's key and attrs.

    The pool is non-empty with unique keys and team_size fits in it; lead_units,
    when set, is a non-empty list some inspector's `attrs.unit` belongs to;
    every differ_on attribute is a text on every inspector and every unit;
    conflicts are `[unit key, inspector key]` naming a unit of the frame (a
    cluster, not one of its members) and an inspector of the pool; and with
    max_per_inspector, the pool must have seats for the smallest selection.
    """
    fields = shape.obj(raw, path, _FIELDS, _OPTIONAL)
    pool = _pool(fields["pool"], shape.at(path, "pool"))
    team_size = shape.positive_int(fields["team_size"], shape.at(path, "team_size"))
    if team_size > len(pool):
        raise FrameInvalid(
            "team_size", shape.at(path, "team_size"), f"exceeds the pool of {len(pool)}"
        )
    limit = fields.get("max_per_inspector")
    rules = Inspectors(
        pool=pool,
        team_size=team_size,
        max_per_inspector=(
            None
            if limit is None
            else shape.positive_int(limit, shape.at(path, "max_per_inspector"))
        ),
        lead_units=_lead_units(fields.get("lead_units"), path, pool),
        differ_on=_texts(fields.get("differ_on"), shape.at(path, "differ_on")),
        conflicts=_conflicts(fields.get("conflicts"), shape.at(path, "conflicts"), pool, is_unit),
    )
    _check_differ_on(rules, units, path)
    return rules


def _pool(raw: Any, path: str) -> list[Inspector]:
    """The pool: inspectors with unique keys."""
    pool = []
    for index, item in enumerate(shape.array(raw, path, non_empty=True)):
        fields = shape.obj(item, shape.at(path, index), ("key",), ("attrs",))
        attrs = fields.get("attrs") or {}
        if not isinstance(attrs, Mapping):
            raise FrameInvalid(
                "wrong_type", shape.at(shape.at(path, index), "attrs"), "not an object"
            )
        pool.append(
            Inspector(shape.key(fields["key"], shape.at(shape.at(path, index), "key")), attrs)
        )
    shape.unique([inspector.key for inspector in pool], path)
    return pool


def _texts(raw: Any, path: str) -> list[str]:
    """A list of distinct non-empty strings; absent or null is empty."""
    if raw is None:
        return []
    values = [shape.text(v, shape.at(path, i)) for i, v in enumerate(shape.array(raw, path))]
    shape.unique(values, path)
    return values


def _lead_units(raw: Any, path: str, pool: list[Inspector]) -> frozenset[str] | None:
    """`lead_units` as a set, or None when not set; some inspector must qualify."""
    if raw is None:
        return None
    leads_path = shape.at(path, "lead_units")
    lead_units = frozenset(_texts(shape.array(raw, leads_path, non_empty=True), leads_path))
    for index, inspector in enumerate(pool):
        unit = inspector.attrs.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise FrameInvalid(
                "wrong_type",
                f"{shape.at(shape.at(path, 'pool'), index)}.attrs.unit",
                "must be text",
                repr(unit),
            )
    if not any(inspector.attrs.get("unit") in lead_units for inspector in pool):
        raise FrameInvalid("no_lead", leads_path, "no inspector of the pool belongs to these units")
    return lead_units


def _conflicts(
    raw: Any, path: str, pool: list[Inspector], is_unit: Callable[[str], bool]
) -> frozenset[tuple[str, str]]:
    """Conflict pairs `[unit key, inspector key]`, both of which must exist.

    A pair naming an unknown key would silently protect no one (a typo, or the
    two keys swapped), so it is refused rather than ignored.
    """
    if raw is None:
        return frozenset()
    inspectors = {inspector.key for inspector in pool}
    pairs = set()
    for index, pair in enumerate(shape.array(raw, path)):
        pair_path = shape.at(path, index)
        items = shape.array(pair, pair_path)
        if len(items) != 2:
            raise FrameInvalid("conflict", pair_path, "must be [unit key, inspector key]")
        unit = shape.key(items[0], shape.at(pair_path, 0))
        inspector = shape.key(items[1], shape.at(pair_path, 1))
        if not is_unit(unit):
            raise FrameInvalid(
                "conflict", shape.at(pair_path, 0), "is not a unit of the frame", unit
            )
        if inspector not in inspectors:
            raise FrameInvalid("conflict", shape.at(pair_path, 1), "is not in the pool", inspector)
        pairs.add((unit, inspector))
    return frozenset(pairs)


def _check_differ_on(
    rules: Inspectors, units: Iterable[tuple[str, Mapping[str, Any]]], path: str
) -> None:
    """Every unit and inspector must have a text value for each differ_on attribute.

    "Differs from a missing value" has no answer all implementations share.
    """
    for name in rules.differ_on:
        for index, inspector in enumerate(rules.pool):
            if not isinstance(inspector.attrs.get(name), str):
                raise FrameInvalid(
                    "differ_attr",
                    f"{shape.at(shape.at(path, 'pool'), index)}.attrs.{name}",
                    f"differ_on {name!r} needs a text value on every inspector",
                    inspector.key,
                )
        for key, attrs in units:
            if not isinstance(attrs.get(name), str):
                raise FrameInvalid(
                    "differ_attr",
                    shape.at(path, "differ_on"),
                    f"differ_on {name!r} needs a text value on every unit; unit {key} has none",
                    key,
                )


def assign(
    rules: Inspectors, units: Iterable[tuple[str, Mapping[str, Any]]], seed: str
) -> list[dict[str, Any]]:
    """Teams for the selected units, served in result order."""
    load: Counter[str] = Counter()
    assignments = []
    for key, attrs in units:
        team = team_for(rules, key, attrs, load, seed)
        load.update(team)
        assignments.append({"unit": key, "inspectors": team})
    return assignments


def team_for(
    rules: Inspectors, key: str, attrs: Mapping[str, Any], load: Counter[str], seed: str
) -> list[str]:
    """One unit's team: its candidates by ticket, a lead first if lead_units is set."""
    ranked = _candidates(rules, key, attrs, load, seed)
    if len(ranked) < rules.team_size:
        raise TeamIncomplete(
            unit=key, candidates=len(ranked), team_size=rules.team_size, needs_lead=False
        )
    if rules.lead_units is None:
        return [inspector.key for inspector in ranked[: rules.team_size]]
    lead = next((inspector for inspector in ranked if rules.is_lead(inspector)), None)
    if lead is None:
        raise TeamIncomplete(
            unit=key, candidates=len(ranked), team_size=rules.team_size, needs_lead=True
        )
    # "The rest of the team are the next candidates in order": the best-ranked
    # candidates other than the lead, even those ranked above the lead
    # (vector 05-clusters-inspectors fixes this reading).
    rest = [inspector.key for inspector in ranked if inspector is not lead]
    return [lead.key, *rest[: rules.team_size - 1]]


def _candidates(
    rules: Inspectors, key: str, attrs: Mapping[str, Any], load: Counter[str], seed: str
) -> list[Inspector]:
    """The inspectors eligible for unit `key`, in the order of their tickets."""
    eligible = {
        f"inspector:{key}:{inspector.key}": inspector
        for inspector in rules.pool
        if (key, inspector.key) not in rules.conflicts
        and all(inspector.attrs[name] != attrs[name] for name in rules.differ_on)
        and (rules.max_per_inspector is None or load[inspector.key] < rules.max_per_inspector)
    }
    return [eligible[ticket_id] for _, ticket_id in order(seed, eligible)]
