"""From a plan and the directories as they are now, to a draw/1 frame.

Every exclusion is applied here, before the frame is frozen, and counted in
the provenance so that a clerk and an auditor see why each stratum holds what
it holds. The frame itself carries only eligible units (spec section 3).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app import reference as ref
from app.algorithm import ALGORITHM
from app.draws.models import Draw, DrawUnit, Plan
from app.draws.schemas import InspectorRules, PlanSpec, StratumSpec
from app.draws.status import DrawStatus
from app.draws.units import last_inspectors
from app.pools.models import (
    ConflictOfInterest,
    Enterprise,
    EnterpriseTag,
    Inspection,
    Inspector,
)

CITY_LEVEL = "市本级"  # the county attribute of inspectors who belong to no county


@dataclass
class Candidate:
    """An enterprise that passed a stratum's filter."""

    id: int
    uscc: str
    county_name: str  # frames carry a county by its name (attribute "county")
    subtype: str
    pair_key: str | None


@dataclass
class StratumProvenance:
    """How a stratum's units were arrived at."""

    id: str
    label: str
    matched: int = 0
    excluded: dict[str, int] = field(default_factory=dict)
    eligible: int = 0
    coverage: str | None = None  # "applied" | "relaxed" when a cycle start is set

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "matched": self.matched,
            "excluded": self.excluded,
            "eligible": self.eligible,
            "coverage": self.coverage,
        }


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a YYYY-MM month."""
    year, mon = (int(p) for p in month.split("-"))
    return date(year, mon, 1), date(year, mon, calendar.monthrange(year, mon)[1])


def _candidates(session: Session, stratum: StratumSpec) -> list[Candidate]:
    f = stratum.filter
    stmt = select(
        Enterprise.id,
        Enterprise.uscc,
        Enterprise.county_code,
        Enterprise.subtype,
        Enterprise.pair_key,
    ).where(Enterprise.retired_at.is_(None))
    if f.sector:
        stmt = stmt.where(Enterprise.sector.in_(f.sector))
    if f.subtype:
        stmt = stmt.where(Enterprise.subtype.in_(f.subtype))
    if f.county_in:
        stmt = stmt.where(Enterprise.county_code.in_(f.county_in))
    if f.county_not_in:
        stmt = stmt.where(Enterprise.county_code.not_in(f.county_not_in))
    if f.status:
        stmt = stmt.where(Enterprise.status.in_(f.status))
    if f.risk_grade:
        stmt = stmt.where(Enterprise.risk_grade.in_(f.risk_grade))
    if f.key_supervision is not None:
        stmt = stmt.where(Enterprise.key_supervision.is_(f.key_supervision))
    for tag in f.tags_all:
        stmt = stmt.where(
            select(EnterpriseTag.enterprise_id)
            .where(EnterpriseTag.enterprise_id == Enterprise.id, EnterpriseTag.tag == tag)
            .exists()
        )
    if f.tags_any:
        stmt = stmt.where(
            select(EnterpriseTag.enterprise_id)
            .where(EnterpriseTag.enterprise_id == Enterprise.id, EnterpriseTag.tag.in_(f.tags_any))
            .exists()
        )
    if f.tags_none:
        stmt = stmt.where(
            ~select(EnterpriseTag.enterprise_id)
            .where(EnterpriseTag.enterprise_id == Enterprise.id, EnterpriseTag.tag.in_(f.tags_none))
            .exists()
        )
    return [
        Candidate(
            id=r[0],
            uscc=r[1],
            county_name=ref.COUNTY_BY_CODE[r[2]].name,
            subtype=r[3],
            pair_key=r[4],
        )
        for r in session.execute(stmt.order_by(Enterprise.uscc))
    ]


def _tagged(session: Session, tag: str) -> set[int]:
    return set(session.scalars(select(EnterpriseTag.enterprise_id).where(EnterpriseTag.tag == tag)))


def _inspected_between(session: Session, first: date, last: date) -> set[int]:
    return set(
        session.scalars(
            select(Inspection.enterprise_id).where(
                Inspection.inspected_on >= first, Inspection.inspected_on <= last
            )
        )
    )


def _drawn_for_month(session: Session, month: str) -> set[str]:
    """Codes drawn by other finished draws planned for the same month (units and members)."""
    rows = session.execute(
        select(DrawUnit.unit_key, DrawUnit.uscc)
        .join(Draw, Draw.id == DrawUnit.draw_id)
        .join(Plan, Plan.id == Draw.plan_id)
        .where(Plan.planned_month == month, Draw.status == DrawStatus.DONE)
    )
    return {key for row in rows for key in row}


@dataclass
class Exclusion:
    """One reason to keep enterprises out, and whom it covers."""

    name: str
    ids: set[int] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    county_names: set[str] = field(default_factory=set)

    def covers(self, c: Candidate) -> bool:
        return c.id in self.ids or c.uscc in self.codes or c.county_name in self.county_names


def _exclusions(session: Session, plan: Plan, spec: PlanSpec) -> list[Exclusion]:
    rules = spec.exclusions
    out: list[Exclusion] = []
    if rules.inspected_in_month:
        first, last = month_bounds(plan.planned_month)
        out.append(
            Exclusion(
                "inspected_in_month",
                ids=_inspected_between(session, first, last),
                codes=_drawn_for_month(session, plan.planned_month),
            )
        )
    if rules.key_enforcement:
        out.append(Exclusion("key_enforcement", ids=_tagged(session, "key_enforcement")))
    return out


def _key_enforcement_counties(session: Session, subtypes: list[str]) -> Exclusion:
    """The counties where key-enforcement units of these subtypes sit (the 2024 fireworks rule)."""
    county_names = {
        ref.COUNTY_BY_CODE[code].name
        for code in session.scalars(
            select(Enterprise.county_code).where(
                Enterprise.id.in_(
                    select(EnterpriseTag.enterprise_id).where(
                        EnterpriseTag.tag == "key_enforcement"
                    )
                ),
                Enterprise.subtype.in_(subtypes),
            )
        )
    }
    return Exclusion("key_enforcement_counties", county_names=county_names)


def _cycle_exclusion(session: Session, plan: Plan, spec: PlanSpec) -> Exclusion | None:
    start = spec.exclusions.cycle_start
    if start is None:
        return None
    first, _ = month_bounds(plan.planned_month)
    return Exclusion("inspected_this_cycle", ids=_inspected_between(session, start, first))


def _units(stratum: StratumSpec, candidates: list[Candidate]) -> list[dict[str, Any]]:
    if stratum.cluster_by is None:
        return [
            {"key": c.uscc, "attrs": {"county": c.county_name, "subtype": c.subtype}}
            for c in candidates
        ]
    clusters: dict[str, list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.pair_key:
            clusters[c.pair_key].append(c)
    return [
        {
            "key": key,
            "attrs": {
                "county": members[0].county_name,
                "subtype": members[0].subtype,
                "members": sorted(m.uscc for m in members),
            },
        }
        for key, members in sorted(clusters.items())
    ]


def _quota(stratum: StratumSpec) -> dict[str, Any]:
    if stratum.count is not None:
        return {"count": stratum.count}
    if stratum.ratio is not None:
        return {"ratio": stratum.ratio}
    assert stratum.per_group is not None
    return {"per_group": stratum.per_group.model_dump(exclude_none=True)}


def _fewest_needed(stratum: StratumSpec) -> int:
    """A lower bound of units a stratum needs; used only to decide coverage relaxing."""
    if stratum.count is not None:
        return stratum.count
    return 1


def build_strata(
    session: Session, plan: Plan, spec: PlanSpec
) -> tuple[list[dict[str, Any]], list[StratumProvenance], dict[str, Candidate]]:
    """The frame's strata, how each came about, and every unit's enterprise(s)."""
    exclusions = _exclusions(session, plan, spec)
    cycle = _cycle_exclusion(session, plan, spec)
    strata: list[dict[str, Any]] = []
    provenance: list[StratumProvenance] = []
    by_code: dict[str, Candidate] = {}
    taken: set[str] = set()  # strata are disjoint: an enterprise sits in the first that takes it
    for stratum in spec.strata:
        prov = StratumProvenance(id=stratum.id, label=stratum.label)
        candidates = [c for c in _candidates(session, stratum) if c.uscc not in taken]
        prov.matched = len(candidates)
        applicable = list(exclusions)
        if stratum.exclude_key_enforcement_counties_of:
            applicable.append(
                _key_enforcement_counties(session, stratum.exclude_key_enforcement_counties_of)
            )
        for exclusion in applicable:
            kept = [c for c in candidates if not exclusion.covers(c)]
            if len(kept) != len(candidates):
                prov.excluded[exclusion.name] = len(candidates) - len(kept)
            candidates = kept
        if cycle is not None:
            fresh = [c for c in candidates if not cycle.covers(c)]
            if len(_units(stratum, fresh)) >= _fewest_needed(stratum):
                if len(fresh) != len(candidates):
                    prov.excluded[cycle.name] = len(candidates) - len(fresh)
                candidates = fresh
                prov.coverage = "applied"
            else:
                prov.coverage = "relaxed"
        units = _units(stratum, candidates)
        prov.eligible = len(units)
        provenance.append(prov)
        for c in candidates:
            taken.add(c.uscc)
            by_code[c.uscc] = c
        strata.append({"id": stratum.id, "units": units} | _quota(stratum))
    return strata, provenance, by_code


def _inspection_day(plan: Plan) -> date:
    if plan.inspection_date is not None:
        return plan.inspection_date
    return month_bounds(plan.planned_month)[1]


def build_inspectors(
    session: Session,
    plan: Plan,
    rules: InspectorRules,
    strata: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The frame's inspector section and its provenance."""
    day = _inspection_day(plan)
    stmt = select(Inspector).where(
        Inspector.active.is_(True),
        Inspector.retired_at.is_(None),
        Inspector.cert_valid_from <= day,
        Inspector.cert_valid_to >= day,
    )
    if rules.units:
        stmt = stmt.where(Inspector.organisation.in_(rules.units))
    inspectors = [
        i
        for i in session.scalars(stmt.order_by(Inspector.cert_no))
        if rules.specialty is None or rules.specialty in i.specialties
    ]
    pool = [
        {
            "key": i.cert_no,
            "attrs": {
                "unit": i.organisation,
                "county": ref.COUNTY_BY_CODE[i.county_code].name if i.county_code else CITY_LEVEL,
            },
        }
        for i in inspectors
    ]
    unit_of_member: dict[str, str] = {}
    for stratum in strata:
        for unit in stratum["units"]:
            unit_of_member[unit["key"]] = unit["key"]
            for member in unit["attrs"].get("members", []):
                unit_of_member[member] = unit["key"]
    cert_of = {i.id: i.cert_no for i in inspectors}
    # Every conflict of the pool's inspectors, matched to the frame in Python: a
    # frame's units may be far more than a database accepts as bound parameters.
    conflict_rows = session.execute(
        select(ConflictOfInterest.inspector_id, Enterprise.uscc)
        .join(Enterprise, Enterprise.id == ConflictOfInterest.enterprise_id)
        .where(
            ConflictOfInterest.inspector_id.in_(cert_of),
            ConflictOfInterest.valid_from <= day,
            or_(ConflictOfInterest.valid_to.is_(None), ConflictOfInterest.valid_to >= day),
        )
    )
    pairs = {
        (unit_of_member[code], cert_of[inspector_id])
        for inspector_id, code in conflict_rows
        if code in unit_of_member
    }
    recused = len(pairs)
    last = last_inspectors(session, unit_of_member) if rules.exclude_last_inspectors else {}
    for code, certs in last.items():
        for cert in certs:
            if cert in {p["key"] for p in pool}:
                pairs.add((unit_of_member[code], cert))
    section: dict[str, Any] = {
        "pool": pool,
        "team_size": rules.team_size,
        "conflicts": [list(p) for p in sorted(pairs)],
    }
    if rules.max_per_inspector is not None:
        section["max_per_inspector"] = rules.max_per_inspector
    if rules.lead_units:
        section["lead_units"] = rules.lead_units
    if rules.differ_on:
        section["differ_on"] = rules.differ_on
    provenance = {
        "inspection_day": day.isoformat(),
        "pool": len(pool),
        "conflicts_recorded": recused,
        "conflicts_last_inspectors": len(pairs) - recused,
    }
    return section, provenance


def build_cross(spec: PlanSpec) -> dict[str, Any] | None:
    """The frame's cross-enforcement section."""
    if spec.cross is None:
        return None
    return {
        "teams": [
            {"key": t.key, "home": ref.COUNTY_BY_CODE[t.home].name}
            for t in sorted(spec.cross.teams, key=lambda t: t.key)
        ],
        "targets": [ref.COUNTY_BY_CODE[c].name for c in spec.cross.targets],
    }


def build_frame(session: Session, plan: Plan) -> tuple[dict[str, Any], dict[str, Any]]:
    """The frame of a draw of this plan now, and its provenance."""
    spec = PlanSpec.model_validate(plan.spec)
    strata, stratum_provenance, _ = build_strata(session, plan, spec)
    inspectors = None
    provenance: dict[str, Any] = {
        "planned_month": plan.planned_month,
        "exclusions": spec.exclusions.model_dump(mode="json"),
        "strata": [p.as_json() for p in stratum_provenance],
    }
    if spec.inspectors is not None:
        inspectors, provenance["inspectors"] = build_inspectors(
            session, plan, spec.inspectors, strata
        )
    frame = {
        "algorithm": ALGORITHM,
        "strata": strata,
        "inspectors": inspectors,
        "cross": build_cross(spec),
    }
    return frame, provenance
