"""The one writer of enterprises: every create, update, retirement and
restoration of an enterprise goes through here, with its change record.

Creating is batch-first: `create_enterprises` writes any number of new
enterprises, their tags and their history records straight through the
database driver (app.bulk: COPY on PostgreSQL, multi-row INSERTs on SQLite) as
tuples built once per row. The API's single create, the demo loader and the
bulk import all call it; an import is only its largest caller. Updates of a
stored record go through the ORM, one record at a time (each reads and
compares its record first), also recorded here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from json.encoder import encode_basestring as _json  # a str as JSON text, as bulk.encode writes it
from typing import Any, NamedTuple, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from app import reference as ref
from app.bulk import insert_rows
from app.errors import Conflict, InvalidInput
from app.history import ChangeAction, record_change
from app.pools import schemas
from app.pools.changes import (
    check_version,
    enterprise_snapshot,
    insert_created,
    record_retirement,
    record_update,
)
from app.pools.enterprise_lookup import find_enterprise
from app.pools.models import Enterprise, EnterpriseTag
from app.types import utcnow

ENTITY = "enterprise"

_ENTERPRISES = cast(Table, Enterprise.__table__)
_TAGS = cast(Table, EnterpriseTag.__table__)

# The columns a new enterprise's row gives (after its id), in NewEnterprise's order.
ROW_COLUMNS = (
    "uscc",
    "name",
    "county_code",
    "sector",
    "subtype",
    "status",
    "risk_grade",
    "key_supervision",
    "pair_key",
    "address",
)
_ROW_WIDTH = len(ROW_COLUMNS)


class NewEnterprise(NamedTuple):
    """A new enterprise's values, as stored: codes, not labels; tags sorted.
    (A tuple: an import builds a million of them, and takes its row as a slice.)"""

    uscc: str
    name: str
    county_code: str
    sector: str
    subtype: str
    status: str
    risk_grade: str | None
    key_supervision: bool
    pair_key: str | None
    address: str
    tags: tuple[str, ...] = ()

    @classmethod
    def of(cls, data: schemas.EnterpriseCreate) -> NewEnterprise:
        """The validated input's values (the model has derived the sector)."""
        return cls(
            data.uscc,
            data.name,
            data.county_code,
            data.sector or ref.SECTOR_OF_SUBTYPE[data.subtype],
            data.subtype,
            data.status,
            data.risk_grade,
            data.key_supervision,
            data.pair_key,
            data.address,
            tuple(sorted(set(data.tags))),
        )

    def row(self) -> tuple[Any, ...]:
        """The values of ROW_COLUMNS (the fields before `tags`)."""
        return self[:_ROW_WIDTH]

    def snapshot(self) -> dict[str, Any]:
        """What enterprise_snapshot gives for the stored record."""
        return {
            "uscc": self.uscc,
            "name": self.name,
            "county_code": self.county_code,
            "sector": self.sector,
            "subtype": self.subtype,
            "status": self.status,
            "risk_grade": self.risk_grade,
            "key_supervision": self.key_supervision,
            "tags": list(self.tags),
            "pair_key": self.pair_key,
            "address": self.address,
        }

    def document(self) -> str:
        """`snapshot()` as `app.bulk.encode` writes it, put together directly:
        an import writes a million of them, and a dict encoded costs three times this."""
        risk, pair = self.risk_grade, self.pair_key
        return (
            f'{{"uscc":{_json(self.uscc)},"name":{_json(self.name)},'
            f'"county_code":{_json(self.county_code)},"sector":{_json(self.sector)},'
            f'"subtype":{_json(self.subtype)},"status":{_json(self.status)},'
            f'"risk_grade":{"null" if risk is None else _json(risk)},'
            f'"key_supervision":{"true" if self.key_supervision else "false"},'
            f'"tags":[{",".join(map(_json, self.tags))}],'
            f'"pair_key":{"null" if pair is None else _json(pair)},'
            f'"address":{_json(self.address)}}}'
        )


def create_enterprises(
    session: Session,
    new: Sequence[NewEnterprise],
    *,
    actor: str,
    import_id: int | None = None,
    at: datetime | None = None,
) -> list[int]:
    """Write new enterprises, their tags and one "create" history record each;
    their ids, in order. The caller has checked the codes are not stored yet
    (the unique index refuses a duplicate anyway, with the whole statement)."""
    if not new:
        return []
    now = at or utcnow()
    ids = insert_created(
        session,
        _ENTERPRISES,
        ROW_COLUMNS,
        new,
        entity=ENTITY,
        actor=actor,
        import_id=import_id,
        at=now,
        # Both drivers take a bool as it is (sqlite3 binds it as the integer
        # SQLite stores): no conversion per row.
        encoded=frozenset({"key_supervision"}),
        same={"created_at": now, "updated_at": now, "version": 1},
    )
    insert_rows(
        session,
        _TAGS,
        ("enterprise_id", "tag"),
        [(id_, tag) for id_, e in zip(ids, new, strict=True) for tag in e.tags],
    )
    return ids


def create_enterprise(
    session: Session,
    *,
    data: schemas.EnterpriseCreate,
    actor: str,
    import_id: int | None = None,
) -> Enterprise:
    """Add one enterprise to the directory (a batch of one)."""
    if find_enterprise(session, data.uscc) is not None:
        raise Conflict(f"统一社会信用代码 {data.uscc} 已在名录库中", code="duplicate_uscc")
    (id_,) = create_enterprises(session, [NewEnterprise.of(data)], actor=actor, import_id=import_id)
    enterprise = session.get(Enterprise, id_)
    assert enterprise is not None
    return enterprise


def update_values(data: schemas.EnterpriseFields, *, partial: bool = True) -> dict[str, Any]:
    """The stored columns an input sets (the sector a new subtype implies)."""
    values = data.model_dump(exclude_unset=partial, exclude={"version", "uscc"})
    if "subtype" in values and "sector" not in values:
        values["sector"] = data.sector
    return values


def _apply(enterprise: Enterprise, values: dict[str, Any]) -> None:
    for field, value in values.items():
        if field == "tags":
            enterprise.set_tags(value)
        else:
            setattr(enterprise, field, value)


def update_enterprise(
    session: Session,
    *,
    enterprise: Enterprise,
    data: schemas.EnterpriseFields,
    actor: str,
    version: int | None = None,
    import_id: int | None = None,
) -> bool:
    """Apply a partial update; returns whether anything changed."""
    if enterprise.retired_at is not None:
        raise Conflict(
            f"企业 {enterprise.uscc} 已注销（{enterprise.retired_reason}），不能修改；如需恢复请先恢复",
            code="enterprise_retired",
        )
    check_version(enterprise.version, version, f"企业 {enterprise.uscc}")
    before = enterprise_snapshot(enterprise)
    values = update_values(data)
    subtype = values.get("subtype", enterprise.subtype)
    sector = values.get("sector", enterprise.sector)
    if ref.SECTOR_OF_SUBTYPE.get(subtype) != sector:
        raise InvalidInput(f"企业类别“{subtype}”不属于行业领域“{sector}”")
    tags = values.get("tags", enterprise.tags)
    if "highway_station" in tags and not values.get("pair_key", enterprise.pair_key):
        raise InvalidInput("高速公路服务区加油站须填写配对键（同一服务区两侧加油站相同）")
    _apply(enterprise, values)
    after = enterprise_snapshot(enterprise)
    return record_update(
        session,
        enterprise,
        entity=ENTITY,
        before=before,
        after=after,
        actor=actor,
        import_id=import_id,
    )


def retire_enterprise(session: Session, *, enterprise: Enterprise, reason: str, actor: str) -> None:
    """Take an enterprise out of the active directory; it stays readable forever."""
    if enterprise.retired_at is not None:
        raise Conflict(f"企业 {enterprise.uscc} 已于此前注销", code="already_retired")
    enterprise.retired_reason = reason
    record_retirement(session, enterprise, entity=ENTITY, reason=reason, actor=actor)


def restore_enterprise(session: Session, *, enterprise: Enterprise, actor: str) -> None:
    """Bring a retired enterprise back into the active directory."""
    if enterprise.retired_at is None:
        raise Conflict(f"企业 {enterprise.uscc} 未注销，无需恢复", code="not_retired")
    record_change(
        session,
        entity=ENTITY,
        entity_id=enterprise.id,
        action=ChangeAction.RESTORE,
        actor=actor,
        before={"reason": enterprise.retired_reason},
        after=None,
    )
    enterprise.retired_at = None
    enterprise.retired_reason = None
    enterprise.version += 1
    session.flush()
