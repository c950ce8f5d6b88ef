"""Finding draws, and naming who a draw selected.

A draw's result names its units by key (a USCC, or a highway pair's key);
an integrator wants the enterprises themselves, so each answer lists them
with name, county and subtype, read in one query per draw.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app import reference as ref
from app.draws.models import Draw, DrawUnit, Plan
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
        stmt = select(Draw)
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


def drawn_units(session: Session, draw: Draw) -> list[DrawnUnit]:
    """The enterprises a finished draw selected, in the result's order (its stored rows:
    a highway pair's members as frozen, whatever the directory says now)."""
    rows = session.execute(
        select(DrawUnit.stratum, DrawUnit.unit_key, Enterprise)
        .join(Enterprise, Enterprise.uscc == DrawUnit.uscc)
        .where(DrawUnit.draw_id == draw.id)
        .order_by(DrawUnit.id)
    )
    return [
        DrawnUnit(
            stratum=stratum,
            key=key,
            uscc=e.uscc,
            name=e.name,
            county_code=e.county_code,
            county_name=ref.COUNTY_BY_CODE[e.county_code].name,
            subtype=e.subtype,
        )
        for stratum, key, e in rows
    ]
