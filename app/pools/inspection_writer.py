"""The one writer of inspection records: the API's single record, the import of
a file of them and the demo loader all write through `create_inspections`,
which stores the records and one "create" history record each through the
database driver. (A draw's published outcome should too: see
`record_outcome_inspection`.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, select, tuple_
from sqlalchemy.orm import Session

from app.bulk import encode
from app.errors import Conflict
from app.pools import schemas
from app.pools.changes import insert_created
from app.pools.enterprise_lookup import enterprise_by_uscc
from app.pools.models import Inspection
from app.types import utcnow

ENTITY = "inspection"

_INSPECTIONS = cast(Table, Inspection.__table__)

ROW_COLUMNS = ("enterprise_id", "inspected_on", "kind", "source", "note")

# What makes two records the same visit (the table's unique constraint).
Visit = tuple[int, date, str, str]


@dataclass(frozen=True, slots=True)
class NewInspection:
    """A new inspection record: the enterprise's id and code, and the visit."""

    enterprise_id: int
    uscc: str
    inspected_on: date
    kind: str
    source: str
    note: str = ""

    @classmethod
    def of(cls, data: schemas.InspectionCreate, enterprise_id: int) -> NewInspection:
        return cls(enterprise_id, data.uscc, data.inspected_on, data.kind, data.source, data.note)

    @property
    def visit(self) -> Visit:
        return (self.enterprise_id, self.inspected_on, self.kind, self.source)

    def row(self) -> tuple[Any, ...]:
        return (self.enterprise_id, self.inspected_on, self.kind, self.source, self.note)

    def document(self) -> str:
        return encode(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """The record as its history keeps it (the input, as the API took it)."""
        return {
            "uscc": self.uscc,
            "inspected_on": self.inspected_on.isoformat(),
            "kind": self.kind,
            "source": self.source,
            "note": self.note,
        }


def stored_visits(session: Session, visits: Iterable[Visit]) -> set[Visit]:
    """Those of `visits` already on record (one query per thousand)."""
    wanted = list(dict.fromkeys(visits))
    found: set[Visit] = set()
    columns = (
        Inspection.enterprise_id,
        Inspection.inspected_on,
        Inspection.kind,
        Inspection.source,
    )
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        query = select(*columns).where(tuple_(*columns).in_(part))
        found.update((e, d, k, s) for e, d, k, s in session.execute(query))
    return found


def create_inspections(
    session: Session,
    new: Sequence[NewInspection],
    *,
    actor: str,
    import_id: int | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Write new inspection records and one "create" history record each;
    their ids. The caller has checked the visits are not stored yet (the
    unique constraint refuses one anyway, with the whole statement)."""
    if not new:
        return []
    now = at or utcnow()
    return insert_created(
        session,
        _INSPECTIONS,
        ROW_COLUMNS,
        new,
        entity=ENTITY,
        actor=actor,
        import_id=import_id,
        at=now,
        same={"created_at": now},
    )


def create_inspection(
    session: Session, *, data: schemas.InspectionCreate, actor: str, import_id: int | None = None
) -> Inspection:
    """Record one inspection of an enterprise (a batch of one)."""
    enterprise = enterprise_by_uscc(session, data.uscc)
    new = NewInspection.of(data, enterprise.id)
    if stored_visits(session, [new.visit]):
        raise Conflict(
            f"{data.source} 于 {data.inspected_on} 对 {data.uscc} 的检查已登记",
            code="duplicate_inspection",
        )
    (id_,) = create_inspections(session, [new], actor=actor, import_id=import_id)
    inspection = session.get(Inspection, id_)
    assert inspection is not None
    return inspection


def record_outcome_inspection(session: Session, *, new: NewInspection, actor: str) -> int | None:
    """The city's inspection a published outcome stands for, recorded once
    with its history; its id, or None when that visit is already on record."""
    if stored_visits(session, [new.visit]):
        return None
    (id_,) = create_inspections(session, [new], actor=actor)
    return id_
