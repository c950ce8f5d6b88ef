"""Witnesses' cosignatures of the log's checkpoints, and the client's view of each witness.

Cosignatures are append-only like the log (triggers in the migration): a stored
cosignature is a witness's signed statement and is never changed or removed.
The witness state is the client's working memory (the size a witness last
cosigned, when to try again); it is not part of the log and is updated in place.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.types import UTCDateTime, utcnow


class Cosignature(Base):
    """One witness's cosignature/v1 line on the checkpoint of one size."""

    __tablename__ = "log_cosignatures"
    __table_args__ = (UniqueConstraint("size", "witness", "key_id", name="uq_log_cosignatures"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, ForeignKey("log_checkpoints.size"), index=True)
    witness: Mapped[str] = mapped_column(String(255))
    key_id: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WitnessState(Base):
    """What the client knows of one witness (by its verifier key)."""

    __tablename__ = "log_witness_state"

    vkey: Mapped[str] = mapped_column(String(512), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    # The size of the latest checkpoint it cosigned for us; None until it said.
    size: Mapped[int | None] = mapped_column(BigInteger)
    # A size it reported (409) beyond every checkpoint this database holds: a rollback alarm.
    ahead_size: Mapped[int | None] = mapped_column(BigInteger)
    ahead_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The old size of a consistency proof it refused (422): its tree of that size is not ours.
    forked_size: Mapped[int | None] = mapped_column(BigInteger)
    forked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # One process at a time talks to a witness: it holds the lease until then.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    last_ok: Mapped[datetime | None] = mapped_column(UTCDateTime())
