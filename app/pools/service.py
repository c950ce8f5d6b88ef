"""Directory operations: create, read, update, list, retire, with history.

Enterprises here; inspectors, recusals and inspection records in their own
modules, whose operations this module also offers (one import for routers).
Services flush, never commit: the request (or the CLI command) commits once.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, or_, select

from app.db import paginate
from app.history import changes_of
from app.pools.changes import (
    ENTERPRISE_FIELDS,
    INSPECTOR_FIELDS,
    enterprise_snapshot,
    inspector_snapshot,
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
from app.pools.enterprise_writer import (
    create_enterprise,
    restore_enterprise,
    retire_enterprise,
    update_enterprise,
)
from app.pools.inspection_service import find_inspection, inspection_query
from app.pools.inspection_writer import create_inspection
from app.pools.inspector_service import (
    find_inspector,
    get_inspector,
    inspector_by_cert,
    inspector_query,
)
from app.pools.inspector_writer import create_inspector, retire_inspector, update_inspector
from app.pools.models import Enterprise, EnterpriseTag

__all__ = [
    "changes_of",
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


def enterprise_query(
    *,
    county_code: Sequence[str] = (),
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
    if county_code:
        stmt = stmt.where(Enterprise.county_code.in_(county_code))
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
