"""Directory operations: create, read, update, list, retire, with history.

Services flush, never commit: the request (or the CLI command) commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from app import reference as ref
from app.errors import Conflict, InvalidInput, NotFound
from app.history import ChangeRecord, record_change
from app.pools import schemas
from app.pools.models import (
    ConflictOfInterest,
    Enterprise,
    EnterpriseTag,
    Inspection,
    Inspector,
)
from app.types import utcnow

T = TypeVar("T")

ENTERPRISE_FIELDS = (
    "name",
    "county_code",
    "sector",
    "subtype",
    "status",
    "risk_grade",
    "key_supervision",
    "tags",
    "pair_key",
    "address",
)
INSPECTOR_FIELDS = (
    "name",
    "cert_valid_from",
    "cert_valid_to",
    "unit",
    "county_code",
    "specialties",
    "active",
    "phone",
)


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


def snapshot(
    record: Enterprise | Inspector | ConflictOfInterest, fields: Sequence[str]
) -> dict[str, Any]:
    """The record's fields as JSON, for history."""
    return {f: _jsonable(getattr(record, f)) for f in fields}


def enterprise_snapshot(e: Enterprise) -> dict[str, Any]:
    """An enterprise's fields as JSON, with its code."""
    return {"uscc": e.uscc} | snapshot(e, ENTERPRISE_FIELDS)


def inspector_snapshot(i: Inspector) -> dict[str, Any]:
    """An inspector's fields as JSON, with the certificate number."""
    return {"cert_no": i.cert_no} | snapshot(i, INSPECTOR_FIELDS)


def _check_version(current: int, given: int | None, what: str) -> None:
    if given is not None and given != current:
        raise Conflict(
            f"{what}已被他人修改（当前版本 {current}，提交的版本 {given}），请刷新后重试",
            code="version_conflict",
        )


def _record_update(
    session: Session,
    record: Enterprise | Inspector | ConflictOfInterest,
    *,
    entity: str,
    before: dict[str, Any],
    after: dict[str, Any],
    actor: str,
    import_id: int | None = None,
) -> bool:
    """Bump the record's version and keep the change in history, if there is one."""
    if after == before:
        return False
    record.version += 1
    record.updated_at = utcnow()
    session.flush()
    record_change(
        session,
        entity=entity,
        entity_id=record.id,
        action="update",
        actor=actor,
        before=before,
        after=after,
        import_id=import_id,
    )
    return True


# -- enterprises ---------------------------------------------------------------


def get_enterprise(session: Session, enterprise_id: int) -> Enterprise:
    """The enterprise with this id, retired or not."""
    enterprise = session.get(Enterprise, enterprise_id)
    if enterprise is None:
        raise NotFound(f"没有编号为 {enterprise_id} 的企业")
    return enterprise


def find_enterprise(session: Session, uscc: str) -> Enterprise | None:
    """The enterprise with this code, if any."""
    return session.scalars(select(Enterprise).where(Enterprise.uscc == uscc)).one_or_none()


def enterprise_by_uscc(session: Session, uscc: str) -> Enterprise:
    """The enterprise with this code, or a clear 404."""
    enterprise = find_enterprise(session, uscc)
    if enterprise is None:
        raise NotFound(f"名录库中没有统一社会信用代码为 {uscc} 的企业")
    return enterprise


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
    _check_version(enterprise.version, version, f"企业 {enterprise.uscc}")
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
    return _record_update(
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


# -- inspectors ----------------------------------------------------------------


def get_inspector(session: Session, inspector_id: int) -> Inspector:
    """The inspector with this id."""
    inspector = session.get(Inspector, inspector_id)
    if inspector is None:
        raise NotFound(f"没有编号为 {inspector_id} 的执法人员")
    return inspector


def find_inspector(session: Session, cert_no: str) -> Inspector | None:
    """The inspector holding this certificate, if any."""
    return session.scalars(select(Inspector).where(Inspector.cert_no == cert_no)).one_or_none()


def inspector_by_cert(session: Session, cert_no: str) -> Inspector:
    """The inspector holding this certificate, or a clear 404."""
    inspector = find_inspector(session, cert_no)
    if inspector is None:
        raise NotFound(f"名录库中没有执法证号为 {cert_no} 的执法人员")
    return inspector


def _inspector_values(data: schemas.InspectorFields, *, partial: bool = True) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=partial, exclude={"version", "cert_no"})
    if "county" in values:
        values["county_code"] = values.pop("county")
    return values


def create_inspector(
    session: Session, *, data: schemas.InspectorCreate, actor: str, import_id: int | None = None
) -> Inspector:
    """Add an inspector to the directory."""
    if find_inspector(session, data.cert_no) is not None:
        raise Conflict(f"执法证号 {data.cert_no} 已在名录库中", code="duplicate_cert_no")
    inspector = Inspector(cert_no=data.cert_no, **_inspector_values(data, partial=False))
    session.add(inspector)
    session.flush()
    record_change(
        session,
        entity="inspector",
        entity_id=inspector.id,
        action="create",
        actor=actor,
        before=None,
        after=inspector_snapshot(inspector),
        import_id=import_id,
    )
    return inspector


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
    _check_version(inspector.version, version, f"执法人员 {inspector.cert_no}")
    before = inspector_snapshot(inspector)
    for field, value in _inspector_values(data).items():
        setattr(inspector, field, value)
    if inspector.cert_valid_to < inspector.cert_valid_from:
        raise InvalidInput("执法证有效期止早于有效期起")
    after = inspector_snapshot(inspector)
    return _record_update(
        session,
        inspector,
        entity="inspector",
        before=before,
        after=after,
        actor=actor,
        import_id=import_id,
    )


def retire_inspector(session: Session, *, inspector: Inspector, reason: str, actor: str) -> None:
    """Take an inspector off duty for good; the record stays readable."""
    if inspector.retired_at is not None:
        raise Conflict(f"执法人员 {inspector.cert_no} 已于此前移出", code="already_retired")
    inspector.retired_at = utcnow()
    inspector.active = False
    inspector.version += 1
    record_change(
        session,
        entity="inspector",
        entity_id=inspector.id,
        action="retire",
        actor=actor,
        before=None,
        after={"reason": reason},
    )
    session.flush()


def inspector_query(
    *,
    unit: Sequence[str] = (),
    county: Sequence[str] = (),
    specialty: str | None = None,
    active: bool | None = None,
    valid_on: date | None = None,
    q: str | None = None,
    include_retired: bool = False,
) -> Select[Inspector]:
    """Inspectors matching every given filter."""
    stmt = select(Inspector)
    if unit:
        stmt = stmt.where(Inspector.unit.in_(unit))
    if county:
        stmt = stmt.where(Inspector.county_code.in_(county))
    if active is not None:
        stmt = stmt.where(Inspector.active.is_(active))
    if valid_on is not None:
        stmt = stmt.where(
            Inspector.cert_valid_from <= valid_on, Inspector.cert_valid_to >= valid_on
        )
    if specialty:
        # A JSON list: match the quoted code, portable across SQLite and PostgreSQL.
        stmt = stmt.where(cast(Inspector.specialties, String).like(f'%"{specialty}"%'))
    if q:
        pattern = f"%{q.strip()}%"
        stmt = stmt.where(or_(Inspector.name.like(pattern), Inspector.cert_no.like(pattern)))
    if not include_retired:
        stmt = stmt.where(Inspector.retired_at.is_(None))
    return stmt


# -- conflicts of interest ----------------------------------------------------


def create_conflict(
    session: Session, *, data: schemas.ConflictCreate, actor: str
) -> ConflictOfInterest:
    """Record a recusal pair."""
    inspector = (
        get_inspector(session, data.inspector_id)
        if data.inspector_id is not None
        else inspector_by_cert(session, str(data.cert_no))
    )
    enterprise = (
        get_enterprise(session, data.enterprise_id)
        if data.enterprise_id is not None
        else enterprise_by_uscc(session, str(data.uscc))
    )
    existing = session.scalars(
        select(ConflictOfInterest).where(
            ConflictOfInterest.inspector_id == inspector.id,
            ConflictOfInterest.enterprise_id == enterprise.id,
            ConflictOfInterest.valid_from == data.valid_from,
        )
    ).one_or_none()
    if existing is not None:
        raise Conflict(
            f"执法人员 {inspector.cert_no} 与企业 {enterprise.uscc} 自 {data.valid_from} 起的回避已登记",
            code="duplicate_conflict",
        )
    conflict = ConflictOfInterest(
        inspector_id=inspector.id,
        enterprise_id=enterprise.id,
        reason=data.reason,
        valid_from=data.valid_from,
        valid_to=data.valid_to,
    )
    session.add(conflict)
    session.flush()
    record_change(
        session,
        entity="conflict",
        entity_id=conflict.id,
        action="create",
        actor=actor,
        before=None,
        after=conflict_snapshot(conflict),
    )
    return conflict


CONFLICT_FIELDS = ("inspector_id", "enterprise_id", "reason", "valid_from", "valid_to")


def conflict_snapshot(c: ConflictOfInterest) -> dict[str, Any]:
    """A conflict's fields as JSON."""
    return snapshot(c, CONFLICT_FIELDS)


def get_conflict(session: Session, conflict_id: int) -> ConflictOfInterest:
    """The recusal pair with this id."""
    conflict = session.get(ConflictOfInterest, conflict_id)
    if conflict is None:
        raise NotFound(f"没有编号为 {conflict_id} 的回避记录")
    return conflict


def update_conflict(
    session: Session, *, conflict: ConflictOfInterest, data: schemas.ConflictUpdate, actor: str
) -> bool:
    """Change a recusal's reason or end date (it is never deleted)."""
    _check_version(conflict.version, data.version, f"回避记录 {conflict.id}")
    before = conflict_snapshot(conflict)
    for field, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        setattr(conflict, field, value)
    if conflict.valid_to is not None and conflict.valid_to < conflict.valid_from:
        raise InvalidInput("回避结束日期早于开始日期")
    after = conflict_snapshot(conflict)
    return _record_update(
        session, conflict, entity="conflict", before=before, after=after, actor=actor
    )


def conflict_query(
    *,
    inspector_id: int | None = None,
    enterprise_id: int | None = None,
    active_on: date | None = None,
) -> Select[ConflictOfInterest]:
    """Recusal pairs matching the filters."""
    stmt = select(ConflictOfInterest)
    if inspector_id is not None:
        stmt = stmt.where(ConflictOfInterest.inspector_id == inspector_id)
    if enterprise_id is not None:
        stmt = stmt.where(ConflictOfInterest.enterprise_id == enterprise_id)
    if active_on is not None:
        stmt = stmt.where(
            ConflictOfInterest.valid_from <= active_on,
            or_(ConflictOfInterest.valid_to.is_(None), ConflictOfInterest.valid_to >= active_on),
        )
    return stmt


# -- inspection history ------------------------------------------------------


def find_inspection(
    session: Session, *, enterprise_id: int, data: schemas.InspectionCreate
) -> Inspection | None:
    """The same visit already on record, if any."""
    return session.scalars(
        select(Inspection).where(
            Inspection.enterprise_id == enterprise_id,
            Inspection.inspected_on == data.inspected_on,
            Inspection.kind == data.kind,
            Inspection.source == data.source,
        )
    ).one_or_none()


def create_inspection(
    session: Session, *, data: schemas.InspectionCreate, actor: str, import_id: int | None = None
) -> Inspection:
    """Record one inspection of an enterprise."""
    enterprise = enterprise_by_uscc(session, data.uscc)
    if find_inspection(session, enterprise_id=enterprise.id, data=data) is not None:
        raise Conflict(
            f"{data.source} 于 {data.inspected_on} 对 {data.uscc} 的检查已登记",
            code="duplicate_inspection",
        )
    inspection = Inspection(
        enterprise_id=enterprise.id,
        inspected_on=data.inspected_on,
        kind=data.kind,
        source=data.source,
        note=data.note,
    )
    session.add(inspection)
    session.flush()
    record_change(
        session,
        entity="inspection",
        entity_id=inspection.id,
        action="create",
        actor=actor,
        before=None,
        after=data.model_dump(mode="json"),
        import_id=import_id,
    )
    return inspection


def inspection_query(
    *,
    enterprise_id: int | None = None,
    kind: Sequence[str] = (),
    date_from: date | None = None,
    date_to: date | None = None,
) -> Select[Inspection]:
    """Inspections matching the filters."""
    stmt = select(Inspection)
    if enterprise_id is not None:
        stmt = stmt.where(Inspection.enterprise_id == enterprise_id)
    if kind:
        stmt = stmt.where(Inspection.kind.in_(kind))
    if date_from is not None:
        stmt = stmt.where(Inspection.inspected_on >= date_from)
    if date_to is not None:
        stmt = stmt.where(Inspection.inspected_on <= date_to)
    return stmt
