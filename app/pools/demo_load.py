"""Load the demo pool (or a scaled pool for benchmarks) into the directories.

Through the directories' own writers, so every loaded record has its history
("create", by 示例数据), as if a clerk had entered it.
"""

from __future__ import annotations

from itertools import islice

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.history import ChangeAction, record_change
from app.pools.changes import snapshot
from app.pools.conflict_service import CONFLICT_FIELDS
from app.pools.demo import DemoEnterprise, DemoInspector, demo_pool, iter_scaled_enterprises
from app.pools.enterprise_writer import NewEnterprise, create_enterprises
from app.pools.inspection_writer import NewInspection, create_inspections
from app.pools.inspector_writer import NewInspector, create_inspectors
from app.pools.models import ConflictOfInterest, Enterprise

DEMO_ACTOR = "示例数据"


def _new_enterprise(e: DemoEnterprise) -> NewEnterprise:
    return NewEnterprise(
        uscc=e.uscc,
        name=e.name,
        county_code=e.county_code,
        sector=e.sector,
        subtype=e.subtype,
        status=e.status,
        risk_grade=e.risk_grade,
        key_supervision=e.key_supervision,
        pair_key=e.pair_key,
        address=e.address,
        tags=tuple(sorted(set(e.tags))),
    )


def _new_inspector(d: DemoInspector) -> NewInspector:
    return NewInspector(
        cert_no=d.cert_no,
        name=d.name,
        cert_valid_from=d.cert_valid_from,
        cert_valid_to=d.cert_valid_to,
        organisation=d.organisation,
        county_code=d.county_code,
        specialties=tuple(d.specialties),
        active=d.active,
        phone=d.phone,
    )


def _insert_enterprises(session: Session, batch: list[DemoEnterprise]) -> dict[str, int]:
    """The enterprises, with their history; their ids by code."""
    ids = create_enterprises(session, [_new_enterprise(e) for e in batch], actor=DEMO_ACTOR)
    return {e.uscc: id_ for e, id_ in zip(batch, ids, strict=True)}


def _directory_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Enterprise))


def _insert_demo_inspectors(session: Session) -> dict[str, int]:
    """The demo pool's inspectors, with their history; their ids by certificate number."""
    inspectors = demo_pool().inspectors
    ids = create_inspectors(session, [_new_inspector(d) for d in inspectors], actor=DEMO_ACTOR)
    return {d.cert_no: id_ for d, id_ in zip(inspectors, ids, strict=True)}


def load_demo_pool(session: Session) -> dict[str, int]:
    """Load the Hengyang demo pool if the directories are empty; return what was added."""
    if not _directory_is_empty(session):
        return {}
    pool = demo_pool()
    ids = _insert_enterprises(session, list(pool.enterprises))
    inspector_ids = _insert_demo_inspectors(session)
    for c in pool.conflicts:
        conflict = ConflictOfInterest(
            inspector_id=inspector_ids[c.cert_no],
            enterprise_id=ids[c.uscc],
            reason=c.reason,
            valid_from=c.valid_from,
            valid_to=c.valid_to,
        )
        session.add(conflict)
        session.flush()
        record_change(
            session,
            entity="conflict",
            entity_id=conflict.id,
            action=ChangeAction.CREATE,
            actor=DEMO_ACTOR,
            before=None,
            after=snapshot(conflict, CONFLICT_FIELDS),
        )
    create_inspections(
        session,
        [
            NewInspection(ids[i.uscc], i.uscc, i.date, i.kind, i.source, i.note)
            for i in pool.inspections
        ],
        actor=DEMO_ACTOR,
    )
    record_change(
        session,
        entity="directory",
        entity_id=0,
        action=ChangeAction.DEMO,
        actor=DEMO_ACTOR,
        before=None,
        after={"enterprises": len(ids), "inspectors": len(inspector_ids)},
    )
    session.flush()
    return {
        "企业": len(pool.enterprises),
        "执法人员": len(pool.inspectors),
        "回避关系": len(pool.conflicts),
        "检查记录": len(pool.inspections),
    }


def load_scaled_pool(session: Session, total: int, batch_size: int = 5000) -> dict[str, int]:
    """Load `total` generated enterprises, and the demo inspectors to draw teams from
    (for benchmarks), into an empty directory."""
    if not _directory_is_empty(session):
        return {}
    generated = iter_scaled_enterprises(total)
    loaded = 0
    while batch := list(islice(generated, batch_size)):
        _insert_enterprises(session, batch)
        loaded += len(batch)
    inspectors = _insert_demo_inspectors(session)
    session.flush()
    return {"企业": loaded, "执法人员": len(inspectors)}
