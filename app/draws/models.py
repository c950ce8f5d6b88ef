"""Plans (抽查计划) and draws (one ceremony each: freeze, seed, result)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.types import UTCDateTime, utcnow


class Plan(Base):
    """A spot-check plan: strata with quotas, exclusions and inspector rules."""

    __tablename__ = "plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int] = mapped_column(Integer)
    quarter: Mapped[int | None] = mapped_column(Integer)
    sector: Mapped[str | None] = mapped_column(String(32))
    lead_unit: Mapped[str | None] = mapped_column(String(64))
    planned_month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    inspection_date: Mapped[date | None] = mapped_column(Date)
    template_key: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Draw(Base):
    """One draw of a plan. Its frame never changes once frozen; it is never redone."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"), index=True)
    plan_snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), index=True)
    frame_jcs: Mapped[str] = mapped_column(Text)  # the exact committed bytes, as UTF-8
    frame_hash: Mapped[str] = mapped_column(String(64), index=True)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed_source: Mapped[str] = mapped_column(String(16))
    announcement: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[str | None] = mapped_column(Text)
    seed_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The operator's dice entry (a hash of the digits) awaiting a witness's confirmation.
    seed_entry: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The confirmed digits, who entered and confirmed them, and when; for
    # dice+drand logged (a `dice` entry) before the announced round's beacon.
    dice: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result_jcs: Mapped[str | None] = mapped_column(Text)
    result_hash: Mapped[str | None] = mapped_column(String(64))
    failure: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    annulment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("draws.id"))
    frozen_by: Mapped[str] = mapped_column(String(100))
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seeded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    annulled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Outcome(Base):
    """The outcome of inspecting one drawn enterprise; public once published (logged)."""

    __tablename__ = "inspection_outcomes"
    __table_args__ = (UniqueConstraint("draw_id", "uscc", name="uq_inspection_outcomes_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    unit_key: Mapped[str] = mapped_column(String(64))
    uscc: Mapped[str] = mapped_column(String(18))
    outcome: Mapped[str] = mapped_column(String(16))
    inspected_on: Mapped[date] = mapped_column(Date)
    note: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    log_index: Mapped[int | None] = mapped_column(BigInteger)


class DrawUnit(Base):
    """One enterprise a finished draw selected, with its inspectors: the result as rows.

    The committed result (`Draw.result_jcs`) stays the record that proofs are made
    of; these rows, written with it, answer "who was drawn, and by whom" without
    parsing every result of the bureau's history.
    """

    __tablename__ = "draw_units"
    __table_args__ = (UniqueConstraint("draw_id", "uscc", name="uq_draw_units_enterprise"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draws.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(64))
    unit_key: Mapped[str] = mapped_column(
        String(64)
    )  # the sampling unit (a cluster names its pair)
    uscc: Mapped[str] = mapped_column(String(18), index=True)
    inspectors: Mapped[list[str] | None] = mapped_column(JSON)
