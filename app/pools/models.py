"""The directories' tables: counties, units, enterprises, inspectors, conflicts,
inspection history and import batches."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base
from app.types import UTCDateTime, utcnow


class County(Base):
    """A county, district, county-level city or park of the city."""

    __tablename__ = "counties"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    sort_order: Mapped[int] = mapped_column(Integer)


class Organisation(Base):
    """A unit of the bureau inspectors belong to (单位: a section, the detachment, a
    brigade, a county bureau); the table keeps its first name, units."""

    __tablename__ = "units"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    county_code: Mapped[str | None] = mapped_column(ForeignKey("counties.code"))


class Enterprise(Base):
    """An enterprise of the inspection directory (检查对象名录库); retired, never deleted."""

    __tablename__ = "enterprises"
    __table_args__ = (
        Index("ix_enterprises_filter", "sector", "subtype", "county_code"),
        CheckConstraint("length(uscc) = 18", name="uscc_length"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    county_code: Mapped[str] = mapped_column(ForeignKey("counties.code"), index=True)
    sector: Mapped[str] = mapped_column(String(32))
    subtype: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    risk_grade: Mapped[str | None] = mapped_column(String(1))
    key_supervision: Mapped[bool] = mapped_column(Boolean, default=False)
    pair_key: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retired_reason: Mapped[str | None] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)

    tag_rows: Mapped[list[EnterpriseTag]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="EnterpriseTag.tag"
    )

    @property
    def tags(self) -> list[str]:
        """The enterprise's tags, sorted."""
        return sorted(t.tag for t in self.tag_rows)

    def set_tags(self, tags: list[str]) -> None:
        """Replace the tags, keeping rows of tags that stay."""
        wanted = set(tags)
        self.tag_rows = [t for t in self.tag_rows if t.tag in wanted]
        present = {t.tag for t in self.tag_rows}
        self.tag_rows.extend(EnterpriseTag(tag=t) for t in sorted(wanted - present))


class EnterpriseTag(Base):
    """A tag of an enterprise (重大危险源, 头顶库, ...); a table so SQL can filter on it."""

    __tablename__ = "enterprise_tags"
    __table_args__ = (Index("ix_enterprise_tags_tag", "tag", "enterprise_id"),)

    enterprise_id: Mapped[int] = mapped_column(
        ForeignKey("enterprises.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(32), primary_key=True)


class Inspector(Base):
    """An enforcement officer of the inspector directory (执法检查人员名录库)."""

    __tablename__ = "inspectors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)
    cert_no: Mapped[str] = mapped_column(String(32), unique=True)
    cert_valid_from: Mapped[date] = mapped_column(Date)
    cert_valid_to: Mapped[date] = mapped_column(Date)
    organisation: Mapped[str] = mapped_column("unit", ForeignKey("units.name"), index=True)
    county_code: Mapped[str | None] = mapped_column(ForeignKey("counties.code"))
    specialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    phone: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class ConflictOfInterest(Base):
    """A recusal (回避): this inspector must not inspect this enterprise."""

    __tablename__ = "conflicts"
    __table_args__ = (
        UniqueConstraint("inspector_id", "enterprise_id", "valid_from", name="uq_conflicts_pair"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspectors.id"), index=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Inspection(Base):
    """An inspection done or scheduled by anyone; draws exclude same-month ones."""

    __tablename__ = "inspections"
    __table_args__ = (
        UniqueConstraint(
            "enterprise_id", "inspected_on", "kind", "source", name="uq_inspections_visit"
        ),
        Index("ix_inspections_month", "inspected_on", "enterprise_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enterprise_id: Mapped[int] = mapped_column(ForeignKey("enterprises.id"), index=True)
    inspected_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ImportBatch(Base):
    """One accepted import of a file, with what it changed."""

    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(32))
    filename: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rows: Mapped[int] = mapped_column(Integer)
    created: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    summary: Mapped[dict[str, int] | None] = mapped_column(JSON)
