"""The cosignatures stored for each checkpoint, as they are served with it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.ledger.witness_models import Cosignature


def cosignatures_of(session: Session, size: int) -> list[Cosignature]:
    """The cosignatures of the checkpoint of `size`, in a stable order (by witness name)."""
    return list(
        session.scalars(
            select(Cosignature)
            .where(Cosignature.size == size)
            .order_by(Cosignature.witness, Cosignature.key_id)
        )
    )


def add_cosignature(
    session: Session, *, size: int, witness: str, key_id: bytes, timestamp: int, line: str
) -> bool:
    """Keep a verified cosignature line; False if this witness's cosignature of `size` is kept.

    The first cosignature of a checkpoint by a key stays: rows are never replaced.
    """
    exists = session.scalar(
        select(Cosignature.id).where(
            Cosignature.size == size,
            Cosignature.witness == witness,
            Cosignature.key_id == key_id.hex(),
        )
    )
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                Cosignature(
                    size=size, witness=witness, key_id=key_id.hex(), timestamp=timestamp, line=line
                )
            )
    except IntegrityError:
        return False  # another process kept the same witness's cosignature first
    return True


def listed(session: Session, size: int) -> list[dict[str, object]]:
    """What a bundle lists of its checkpoint's cosignatures: witness, key id, time."""
    return [
        {"witness": c.witness, "key_id": c.key_id, "timestamp": c.timestamp}
        for c in cosignatures_of(session, size)
    ]
