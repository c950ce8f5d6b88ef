"""The one writer of inspectors: every create, update and retirement of an
inspector goes through here, with its change record.

Creating is batch-first, as for enterprises (app.pools.enterprise_writer): the
API's single create, the demo loader and the import all call
`create_inspectors`, which writes rows and history records through the driver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app.bulk import encode
from app.errors import Conflict, InvalidInput
from app.pools import schemas
from app.pools.changes import (
    check_version,
    insert_created,
    inspector_snapshot,
    record_retirement,
    record_update,
)
from app.pools.inspector_service import find_inspector
from app.pools.models import Inspector
from app.types import utcnow

ENTITY = "inspector"

_INSPECTORS = cast(Table, Inspector.__table__)

# The columns a new inspector's row gives (after its id), in NewInspector's order.
ROW_COLUMNS = (
    "cert_no",
    "name",
    "cert_valid_from",
    "cert_valid_to",
    "unit",
    "county_code",
    "specialties",
    "active",
    "phone",
)


@dataclass(frozen=True, slots=True)
class NewInspector:
    """A new inspector's values, as stored."""

    cert_no: str
    name: str
    cert_valid_from: date
    cert_valid_to: date
    organisation: str
    county_code: str | None
    specialties: tuple[str, ...]
    active: bool
    phone: str | None

    @classmethod
    def of(cls, data: schemas.InspectorCreate) -> NewInspector:
        return cls(
            data.cert_no,
            data.name,
            data.cert_valid_from,
            data.cert_valid_to,
            data.organisation,
            data.county_code,
            tuple(data.specialties),
            data.active,
            data.phone,
        )

    def row(self) -> tuple[Any, ...]:
        """The values of ROW_COLUMNS."""
        return (
            self.cert_no,
            self.name,
            self.cert_valid_from,
            self.cert_valid_to,
            self.organisation,
            self.county_code,
            list(self.specialties),
            self.active,
            self.phone,
        )

    def document(self) -> str:
        return encode(self.snapshot())

    def snapshot(self) -> dict[str, Any]:
        """What inspector_snapshot gives for the stored record."""
        return {
            "cert_no": self.cert_no,
            "name": self.name,
            "cert_valid_from": self.cert_valid_from.isoformat(),
            "cert_valid_to": self.cert_valid_to.isoformat(),
            "unit": self.organisation,  # history names the column
            "county_code": self.county_code,
            "specialties": list(self.specialties),
            "active": self.active,
            "phone": self.phone,
        }


def create_inspectors(
    session: Session,
    new: Sequence[NewInspector],
    *,
    actor: str,
    import_id: int | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Write new inspectors and one "create" history record each; their ids.
    The caller has checked the certificates are not stored yet."""
    if not new:
        return []
    for inspector in new:
        if inspector.cert_valid_to < inspector.cert_valid_from:
            raise InvalidInput("执法证有效期止早于有效期起")
    now = at or utcnow()
    return insert_created(
        session,
        _INSPECTORS,
        ROW_COLUMNS,
        new,
        entity=ENTITY,
        actor=actor,
        import_id=import_id,
        at=now,
        same={"created_at": now, "updated_at": now, "version": 1},
    )


def create_inspector(
    session: Session, *, data: schemas.InspectorCreate, actor: str, import_id: int | None = None
) -> Inspector:
    """Add one inspector to the directory (a batch of one)."""
    if find_inspector(session, data.cert_no) is not None:
        raise Conflict(f"执法证号 {data.cert_no} 已在名录库中", code="duplicate_cert_no")
    (id_,) = create_inspectors(session, [NewInspector.of(data)], actor=actor, import_id=import_id)
    inspector = session.get(Inspector, id_)
    assert inspector is not None
    return inspector


def update_values(data: schemas.InspectorFields, *, partial: bool = True) -> dict[str, Any]:
    return data.model_dump(exclude_unset=partial, exclude={"version", "cert_no"})


def update_inspector(
    session: Session,
    *,
    inspector: Inspector,
    data: schemas.InspectorFields,
    actor: str,
    version: int | None = None,
    import_id: int | None = None,
) -> bool:
    """Apply a partial update; returns whether anything changed."""
    check_version(inspector.version, version, f"执法人员 {inspector.cert_no}")
    before = inspector_snapshot(inspector)
    for field, value in update_values(data).items():
        setattr(inspector, field, value)
    if inspector.cert_valid_to < inspector.cert_valid_from:
        raise InvalidInput("执法证有效期止早于有效期起")
    after = inspector_snapshot(inspector)
    return record_update(
        session,
        inspector,
        entity=ENTITY,
        before=before,
        after=after,
        actor=actor,
        import_id=import_id,
    )


def retire_inspector(session: Session, *, inspector: Inspector, reason: str, actor: str) -> None:
    """Take an inspector off duty for good; the record stays readable."""
    if inspector.retired_at is not None:
        raise Conflict(f"执法人员 {inspector.cert_no} 已于此前移出", code="already_retired")
    inspector.active = False
    record_retirement(session, inspector, entity=ENTITY, reason=reason, actor=actor)
