"""Finding draws, and naming who a draw selected.

A draw's result names its units by key (a USCC, or a highway pair's key);
an integrator wants the enterprises themselves, so each answer lists them
with name, county and subtype; a page of draws reads them in one query.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, defer

from app import reference as ref
from app.draws.models import Draw, DrawUnit, Plan
from app.ledger.models import LogEntry
from app.pools.models import Enterprise
from app.schemas import MAX_PAGE_SIZE, SectorCode

DrawStatusName = Literal["frozen", "done", "failed", "annulled"]


class DrawnUnit(BaseModel):
    """An enterprise a draw selected."""

    # Built by field names (county_code), written by the public names (county).
    model_config = ConfigDict(validate_by_name=True, serialize_by_alias=True)

    stratum: str = Field(description="分层编号")
    key: str = Field(description="抽取单元：统一社会信用代码，或高速公路服务区加油站的配对键")
    uscc: str
    name: str
    county_code: str = Field(alias="county", description="县市区代码")
    county_name: str
    subtype: str = Field(description="企业类别代码")


class DrawFilters(BaseModel):
    """The list filters of the draws; all given must hold."""

    model_config = ConfigDict(extra="forbid")

    plan_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="抽查计划编号")
    year: int | None = Field(default=None, ge=2000, le=2100, description="计划年度")
    quarter: int | None = Field(default=None, ge=1, le=4, description="计划季度")
    sector: SectorCode | None = Field(default=None, description="计划的行业领域代码")
    status: DrawStatusName | None = Field(default=None, description="抽查状态")
    q: str | None = Field(default=None, max_length=100, description="抽查编号或计划名称中的文字")
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)

    def query(self) -> Select[Draw]:
        """The matching draws."""
        # The frame (the whole committed population) is no part of a list answer.
        stmt = select(Draw).options(defer(Draw.frame_jcs))
        if self.status is not None:
            stmt = stmt.where(Draw.status == self.status)
        if self.plan_id is not None:
            stmt = stmt.where(Draw.plan_id == self.plan_id)
        if self.year is not None or self.quarter is not None or self.sector or self.q:
            stmt = stmt.join(Plan, Plan.id == Draw.plan_id)
        if self.year is not None:
            stmt = stmt.where(Plan.year == self.year)
        if self.quarter is not None:
            stmt = stmt.where(Plan.quarter == self.quarter)
        if self.sector:
            stmt = stmt.where(Plan.sector == self.sector)
        if self.q:
            text = self.q.strip()
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(
                or_(
                    Draw.public_id.ilike(pattern, escape="\\"),
                    Plan.title.ilike(pattern, escape="\\"),
                )
            )
        return stmt


@dataclass(frozen=True)
class Related:
    """What a draw's answer shows beside its own row, for a page of draws at once:
    four queries for the page, however many draws it holds."""

    replaces: dict[int, str]  # draw id → the public id of the draw it replaced
    replaced_by: dict[int, str]  # draw id → the public id of its latest replacement
    log_entries: dict[str, list[int]]  # public id → its log entries' indexes, in order
    units: dict[int, list[DrawnUnit]]  # draw id → the enterprises it selected

    def of(self, draw: Draw) -> tuple[str | None, str | None, list[int], list[DrawnUnit]]:
        """This draw's: replaces, replaced by, log entries, units."""
        return (
            self.replaces.get(draw.id),
            self.replaced_by.get(draw.id),
            self.log_entries.get(draw.public_id, []),
            self.units.get(draw.id, []),
        )


def replacements(session: Session, draw_ids: Sequence[int]) -> dict[int, str]:
    """Draw id → the public id of the latest draw that replaced it, for these draws."""
    found: dict[int, str] = {}
    for old, public_id in session.execute(
        select(Draw.replaces_id, Draw.public_id)
        .where(Draw.replaces_id.in_(draw_ids))
        .order_by(Draw.id)
    ):
        if old is not None:
            found[old] = public_id  # ordered by id: the latest replacement stays
    return found


def related(session: Session, draws: Sequence[Draw]) -> Related:
    """The replacements, log entries and drawn units of these draws."""
    ids = [d.id for d in draws]
    replaced_ids = {d.replaces_id for d in draws if d.replaces_id is not None}
    chosen = select(Draw.id, Draw.public_id).where(Draw.id.in_(replaced_ids))
    public = {draw_id: public_id for draw_id, public_id in session.execute(chosen)}
    replaces = {d.id: public[d.replaces_id] for d in draws if d.replaces_id in public}
    replaced_by = replacements(session, ids)
    log_entries: dict[str, list[int]] = defaultdict(list)
    for of_draw, index in session.execute(
        select(LogEntry.draw, LogEntry.idx)
        .where(LogEntry.draw.in_([d.public_id for d in draws]))
        .order_by(LogEntry.idx)
    ):
        if of_draw is not None:
            log_entries[of_draw].append(index)
    units: dict[int, list[DrawnUnit]] = defaultdict(list)
    for draw_id, stratum, key, e in session.execute(
        select(DrawUnit.draw_id, DrawUnit.stratum, DrawUnit.unit_key, Enterprise)
        .join(Enterprise, Enterprise.uscc == DrawUnit.uscc)
        .where(DrawUnit.draw_id.in_(ids))
        .order_by(DrawUnit.id)
    ):
        # A highway pair's members as frozen, whatever the directory says now.
        units[draw_id].append(
            DrawnUnit(
                stratum=stratum,
                key=key,
                uscc=e.uscc,
                name=e.name,
                county_code=e.county_code,
                county_name=ref.COUNTY_BY_CODE[e.county_code].name,
                subtype=e.subtype,
            )
        )
    return Related(replaces, replaced_by, dict(log_entries), dict(units))
