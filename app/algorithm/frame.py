"""The frame (spec sections 2, 3, 5): its checks, and its typed form for the draw.

`parse_frame` is the single gate: it refuses what must be refused when a frame
is frozen and returns what the draw needs, so nothing is checked twice or not
at all.

Where the spec leaves a choice open, this implementation refuses rather than
guesses (a refused frame costs a clerk a minute; a misread one costs a draw):

- unknown fields at any level are refused; an optional field that is absent
  and one that is null mean the same (inspectors, cross, max_groups, ...);
- count, max_groups, team_size, max_per_inspector are integers of at least 1;
  a ratio is a string, a plain decimal in (0, 1] (see quotas.parse_ratio);
- a stratum has at least one unit and a unique id; a frame with no strata
  must have a cross pairing;
- cluster members (`attrs.members`) are keys, unique with all unit keys;
- per_group's attribute is a non-empty text on every unit of its stratum, and
  every group must meet its quota, chosen or not;
- inspectors and cross: see teams.parse_inspectors and cross.parse_cross.

>>> frame = {"algorithm": "draw/1", "inspectors": None, "cross": None,
...          "strata": [{"id": "s", "count": 3, "units": [{"key": "A", "attrs": {}}]}]}
>>> parse_frame(frame)
Traceback (most recent call last):
...
app.algorithm.errors.QuotaInfeasible: stratum s: asked for 3 units, only 1 available
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from app.algorithm import shape
from app.algorithm.cross import Cross, parse_cross
from app.algorithm.errors import FrameInvalid, QuotaInfeasible
from app.algorithm.quotas import Quota, parse_ratio
from app.algorithm.teams import Inspectors, parse_inspectors

ALGORITHM = "draw/1"

_FRAME_FIELDS = ("algorithm", "strata")
_FRAME_OPTIONAL = ("inspectors", "cross")
_STRATUM_RULES = ("count", "ratio", "per_group")
_UNIT_FIELDS = frozenset({"key", "attrs"})


@dataclass(frozen=True, slots=True)
class Stratum:
    """One stratum: its unit keys in frame order and its quota.

    For per_group strata `by` names the attribute, `groups` maps each value to
    its unit keys (values in order of first appearance) and `quota` applies to
    each group; `max_groups` is how many groups to take, None for all.
    """

    id: str
    keys: list[str]
    attrs: list[Mapping[str, Any]]
    quota: Quota
    by: str | None = None
    max_groups: int | None = None
    groups: dict[str, list[str]] = field(default_factory=dict)

    def group_sizes(self) -> dict[str, int]:
        """How many units each group of a per_group stratum takes."""
        return {value: self.quota.size(len(keys)) for value, keys in self.groups.items()}

    def fewest_selected(self) -> int:
        """The fewest units a draw of this stratum can select, whatever the seed."""
        if self.by is None:
            return self.quota.size(len(self.keys))
        sizes = sorted(self.group_sizes().values())
        return sum(sizes[: self.max_groups] if self.max_groups is not None else sizes)


@dataclass(frozen=True, slots=True)
class Frame:
    """A checked frame."""

    strata: list[Stratum]
    inspectors: Inspectors | None
    cross: Cross | None


def parse_frame(frame: Any) -> Frame:
    """The checked, typed form of `frame`; raises a FrameError if it must be refused."""
    top = shape.obj(frame, "", _FRAME_FIELDS, _FRAME_OPTIONAL)
    if top["algorithm"] != ALGORITHM:
        raise FrameInvalid(
            "algorithm", "algorithm", f"must be {ALGORITHM!r}", repr(top["algorithm"])
        )
    raw_strata = shape.array(top["strata"], "strata")
    # One set for the whole frame: strata must be disjoint (spec section 3), and
    # a cluster's members count as keys so no enterprise can be drawn twice.
    seen: set[str] = set()
    members: set[str] = set()
    strata = [
        _stratum(raw, shape.at("strata", index), seen, members)
        for index, raw in enumerate(raw_strata)
    ]
    _check_stratum_ids(strata)
    inspectors = None
    if top.get("inspectors") is not None:
        inspectors = parse_inspectors(
            top["inspectors"],
            "inspectors",
            [(k, a) for s in strata for k, a in zip(s.keys, s.attrs, strict=True)],
            lambda k: k in seen and k not in members,
        )
    cross = parse_cross(top["cross"], "cross") if top.get("cross") is not None else None
    if not strata and cross is None:
        raise FrameInvalid("empty_frame", "strata", "the frame draws nothing")
    # Structure first, then feasibility: a clerk fixes the shape, then the numbers.
    for stratum in strata:
        _check_feasible(stratum)
    if inspectors is not None:
        inspectors.check_capacity(sum(s.fewest_selected() for s in strata))
    if cross is not None:
        cross.check_feasible()
    return Frame(strata=strata, inspectors=inspectors, cross=cross)


def _check_stratum_ids(strata: list[Stratum]) -> None:
    """Stratum ids are unique: results and group tickets are named by them."""
    stratum_ids: set[str] = set()
    for index, stratum in enumerate(strata):
        if stratum.id in stratum_ids:
            path = shape.at(shape.at("strata", index), "id")
            raise FrameInvalid("duplicate_key", path, "is used twice in the frame", stratum.id)
        stratum_ids.add(stratum.id)


def _stratum(raw: Any, path: str, seen: set[str], members: set[str]) -> Stratum:
    """One stratum, checked for shape; feasibility comes later."""
    fields = shape.obj(raw, path, ("id", "units"), _STRATUM_RULES)
    sid = fields["id"]
    if not isinstance(sid, str) or not shape.STRATUM_ID.fullmatch(sid):
        raise FrameInvalid(
            "stratum_id", shape.at(path, "id"), "must match [a-z0-9_-]{1,64}", repr(sid)
        )
    rules = [name for name in _STRATUM_RULES if fields.get(name) is not None]
    if len(rules) != 1:
        raise FrameInvalid("quota_rule", path, "needs exactly one of count, ratio, per_group")
    by: str | None = None
    max_groups: int | None = None
    if rules[0] == "per_group":
        group_path = shape.at(path, "per_group")
        rule = shape.obj(fields["per_group"], group_path, ("by",), ("count", "ratio", "max_groups"))
        by = shape.text(rule["by"], shape.at(group_path, "by"))
        quota = _quota(rule, group_path)
        if rule.get("max_groups") is not None:
            max_groups = shape.positive_int(rule["max_groups"], shape.at(group_path, "max_groups"))
    else:
        quota = _quota(fields, path)
    units_path = shape.at(path, "units")
    units = shape.array(fields["units"], units_path, non_empty=True)
    keys, attrs, groups = _units(units, units_path, by, seen, members)
    return Stratum(sid, keys, attrs, quota, by, max_groups, groups)


def _quota(fields: Mapping[str, Any], path: str) -> Quota:
    """The count or ratio of a stratum or of a per_group rule: exactly one."""
    count, ratio = fields.get("count"), fields.get("ratio")
    if (count is None) == (ratio is None):
        raise FrameInvalid("quota_rule", path, "needs exactly one of count, ratio")
    if count is not None:
        return Quota(count=shape.positive_int(count, shape.at(path, "count")), ratio=None)
    if not isinstance(ratio, str):
        # A JSON number 0.2 is a binary float; only the string "0.2" is exact.
        raise FrameInvalid(
            "ratio", shape.at(path, "ratio"), 'must be a decimal string like "0.2"', repr(ratio)
        )
    try:
        return Quota(count=None, ratio=parse_ratio(ratio))
    except ValueError as exc:
        raise FrameInvalid("ratio", shape.at(path, "ratio"), str(exc), ratio) from None


def _units(
    units: list[Any], path: str, by: str | None, seen: set[str], members: set[str]
) -> tuple[list[str], list[Mapping[str, Any]], dict[str, list[str]]]:
    """Keys, attrs and groups of a stratum's units; the loop a million-unit frame runs.

    The common case (a plain dict with a valid new key) is tested with `type(...)
    is` and set operations only; anything else takes the slow path that names the
    problem.
    """
    keys: list[str] = []
    attrs_list: list[Mapping[str, Any]] = []
    groups: dict[str, list[str]] = {}
    key_ok = shape.KEY.fullmatch
    for index, unit in enumerate(units):
        if type(unit) is not dict or not unit.keys() <= _UNIT_FIELDS or "key" not in unit:
            shape.obj(unit, shape.at(path, index), ("key",), ("attrs",))
        key = unit["key"]
        if type(key) is not str or key in seen or not key_ok(key):
            _bad_key(key, shape.at(shape.at(path, index), "key"))
        seen.add(key)
        attrs = unit.get("attrs")
        if type(attrs) is not dict:
            attrs = _attrs(attrs, shape.at(shape.at(path, index), "attrs"))
        if attrs.get("members") is not None:
            _members(attrs["members"], shape.at(shape.at(path, index), "attrs.members"), seen)
            members.update(attrs["members"])
        if by is not None:
            value = attrs.get(by)
            if type(value) is not str or not value:
                raise FrameInvalid(
                    "group_attr",
                    shape.at(shape.at(path, index), f"attrs.{by}"),
                    f"per_group by {by!r} needs every unit to have a non-empty text {by!r}",
                    key,
                )
            groups.setdefault(value, []).append(key)
        keys.append(key)
        attrs_list.append(attrs)
    return keys, attrs_list, groups


def _attrs(value: Any, path: str) -> Mapping[str, Any]:
    """A unit's attrs that are not a plain dict: absent or null is empty."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FrameInvalid("wrong_type", path, "must be an object")
    return value


def _bad_key(key: Any, path: str) -> None:
    """Raise the error for a key that is malformed or already used in the frame."""
    shape.key(key, path)
    raise FrameInvalid("duplicate_key", path, "is used twice in the frame", key)


def _members(value: Any, path: str, seen: set[str]) -> None:
    """A cluster's members: keys, each used once in the whole frame."""
    for index, member in enumerate(shape.array(value, path, non_empty=True)):
        member_path = shape.at(path, index)
        if shape.key(member, member_path) in seen:
            _bad_key(member, member_path)
        seen.add(member)


def _check_feasible(stratum: Stratum) -> None:
    """Refuse a quota the frame cannot meet (spec sections 3 and 5)."""
    if stratum.by is None:
        asked = stratum.quota.size(len(stratum.keys))
        if asked > len(stratum.keys):
            raise QuotaInfeasible(
                stratum=stratum.id, group=None, available=len(stratum.keys), asked=asked
            )
        return
    if stratum.max_groups is not None and stratum.max_groups > len(stratum.groups):
        raise QuotaInfeasible(
            stratum=stratum.id,
            group=None,
            available=len(stratum.groups),
            asked=stratum.max_groups,
            what="groups",
        )
    # Every group must be able to meet its quota, chosen or not: which groups
    # are chosen is only known once the seed exists, after the commitment.
    for value, keys in stratum.groups.items():
        asked = stratum.quota.size(len(keys))
        if asked > len(keys):
            raise QuotaInfeasible(stratum=stratum.id, group=value, available=len(keys), asked=asked)
