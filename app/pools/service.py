"""Directory operations: create, read, update, list, retire, with history.

Enterprises here; inspectors, recusals and inspection records in their own
modules, whose operations this module also offers (one import for routers).
Services flush, never commit: the request (or the CLI command) commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from app import reference as ref
from app.errors import Conflict, InvalidInput
from app.history import ChangeRecord, record_change
from app.pools import schemas
from app.pools.changes import (
    ENTERPRISE_FIELDS,
    INSPECTOR_FIELDS,
    check_version,
    enterprise_snapshot,
    inspector_snapshot,
    record_update,
    snapshot,
)
from app.pools.conflict_service import (
    CONFLICT_FIELDS,
    conflict_query,
    conflict_snapshot,
    create_conflict,
    get_conflict,
    update_conflict,
)
from app.pools.enterprise_lookup import enterprise_by_uscc, find_enterprise, get_enterprise
from app.pools.inspection_service import create_inspection, find_inspection, inspection_query
from app.pools.inspector_service import (
    create_inspector,
    find_inspector,
    get_inspector,
    inspector_by_cert,
    inspector_query,
    retire_inspector,
    update_inspector,
)
from app.pools.models import Enterprise, EnterpriseTag
from app.types import utcnow

__all__ = [
    "CONFLICT_FIELDS",
    "ENTERPRISE_FIELDS",
    "INSPECTOR_FIELDS",
    "conflict_query",
    "conflict_snapshot",
    "create_conflict",
    "create_enterprise",
    "create_inspection",
    "create_inspector",
    "enterprise_by_uscc",
    "enterprise_query",
    "enterprise_snapshot",
    "find_enterprise",
    "find_inspection",
    "find_inspector",
    "get_conflict",
    "get_enterprise",
    "get_inspector",
    "history",
    "inspection_query",
    "inspector_by_cert",
    "inspector_query",
    "inspector_snapshot",
    "paginate",
    "restore_enterprise",
    "retire_enterprise",
    "retire_inspector",
    "snapshot",
    "update_conflict",
    "update_enterprise",
    "update_inspector",
]

T = TypeVar("T")


def _enterprise_values(data: schemas.EnterpriseFields, *, partial: bool = True) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=partial, exclude={"version", "uscc"})
    if "county" in values:
        values["county_code"] = values.pop("county")
    if "subtype" in values and "sector" not in values:
        values["sector"] = data.sector
    return values


def _apply_enterprise(enterprise: Enterprise, values: dict[str, Any]) -> None:
    for field, value in values.items():
        if field == "tags":
            enterprise.set_tags(value)
        else:
            setattr(enterprise, field, value)


def create_enterprise(
    session: Session,
    *,
    data: schemas.EnterpriseCreate,
    actor: str,
    import_id: int | None = None,
) -> Enterprise:
    """Add an enterprise to the directory."""
    if find_enterprise(session, data.uscc) is not None:
        raise Conflict(f"统一社会信用代码 {data.uscc} 已在名录库中", code="duplicate_uscc")
    enterprise = Enterprise(uscc=data.uscc, tag_rows=[])
    _apply_enterprise(enterprise, _enterprise_values(data, partial=False))
    session.add(enterprise)
    session.flush()
    record_change(
        session,
        entity="enterprise",
        entity_id=enterprise.id,
        action="create",
        actor=actor,
        before=None,
        after=enterprise_snapshot(enterprise),
        import_id=import_id,
    )
    return enterprise


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
    values = _enterprise_values(data)
    subtype = values.get("subtype", enterprise.subtype)
    sector = values.get("sector", enterprise.sector)
    if ref.SECTOR_OF_SUBTYPE.get(subtype) != sector:
        raise InvalidInput(f"企业类别“{subtype}”不属于行业领域“{sector}”")
    tags = values.get("tags", enterprise.tags)
    if "highway_station" in tags and not values.get("pair_key", enterprise.pair_key):
        raise InvalidInput("高速公路服务区加油站须填写配对键（同一服务区两侧加油站相同）")
    _apply_enterprise(enterprise, values)
    after = enterprise_snapshot(enterprise)
    return record_update(
        session,
        enterprise,
        entity="enterprise",
        before=before,
        after=after,
        actor=actor,
        import_id=import_id,
    )


def retire_enterprise(session: Session, *, enterprise: Enterprise, reason: str, actor: str) -> None:
    """Take an enterprise out of the active directory; it stays readable forever."""
    if enterprise.retired_at is not None:
        raise Conflict(f"企业 {enterprise.uscc} 已于此前注销", code="already_retired")
    enterprise.retired_at = utcnow()
    enterprise.retired_reason = reason
    enterprise.version += 1
    record_change(
        session,
        entity="enterprise",
        entity_id=enterprise.id,
        action="retire",
        actor=actor,
        before=None,
        after={"reason": reason},
    )
    session.flush()


def restore_enterprise(session: Session, *, enterprise: Enterprise, actor: str) -> None:
    """Bring a retired enterprise back into the active directory."""
    if enterprise.retired_at is None:
        raise Conflict(f"企业 {enterprise.uscc} 未注销，无需恢复", code="not_retired")
    record_change(
        session,
        entity="enterprise",
        entity_id=enterprise.id,
        action="restore",
        actor=actor,
        before={"reason": enterprise.retired_reason},
        after=None,
    )
    enterprise.retired_at = None
    enterprise.retired_reason = None
    enterprise.version += 1
    session.flush()


def enterprise_query(
    *,
    county: Sequence[str] = (),
    sector: Sequence[str] = (),
    subtype: Sequence[str] = (),
    status: Sequence[str] = (),
    risk_grade: Sequence[str] = (),
    tag: Sequence[str] = (),
    key_supervision: bool | None = None,
    q: str | None = None,
    include_retired: bool = False,
) -> Select[Enterprise]:
    """The enterprises matching every given filter (values within one filter are OR)."""
    stmt = select(Enterprise)
    if county:
        stmt = stmt.where(Enterprise.county_code.in_(county))
    if sector:
        stmt = stmt.where(Enterprise.sector.in_(sector))
    if subtype:
        stmt = stmt.where(Enterprise.subtype.in_(subtype))
    if status:
        stmt = stmt.where(Enterprise.status.in_(status))
    if risk_grade:
        stmt = stmt.where(Enterprise.risk_grade.in_(risk_grade))
    for one_tag in tag:
        stmt = stmt.where(
            select(EnterpriseTag.enterprise_id)
            .where(EnterpriseTag.enterprise_id == Enterprise.id, EnterpriseTag.tag == one_tag)
            .exists()
        )
    if key_supervision is not None:
        stmt = stmt.where(Enterprise.key_supervision.is_(key_supervision))
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(
            or_(
                Enterprise.name.like(pattern),
                Enterprise.uscc.like(pattern.upper()),
                Enterprise.address.like(pattern),
            )
        )
    if not include_retired:
        stmt = stmt.where(Enterprise.retired_at.is_(None))
    return stmt


def paginate(
    session: Session, stmt: Select[T], *, order_by: Any, page: int, page_size: int
) -> tuple[list[T], int]:
    """One page of a query, with the total count of all pages; `order_by` is a
    column or a tuple of them."""
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    keys = order_by if isinstance(order_by, tuple) else (order_by,)
    items = session.scalars(
        stmt.order_by(*keys).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return list(items), total


def history(session: Session, *, entity: str, entity_id: int) -> list[ChangeRecord]:
    """Every recorded change of one record, oldest first."""
    stmt = (
        select(ChangeRecord)
        .where(ChangeRecord.entity == entity, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
    )
    return list(session.scalars(stmt))
