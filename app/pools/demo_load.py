"""Load the demo pool (or a scaled pool for benchmarks) into the directories."""

from __future__ import annotations

from itertools import islice

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.history import record_change
from app.pools.demo import DemoEnterprise, demo_pool, iter_scaled_enterprises
from app.pools.models import (
    ConflictOfInterest,
    Enterprise,
    EnterpriseTag,
    Inspection,
    Inspector,
)
from app.types import utcnow

DEMO_ACTOR = "示例数据"


def _enterprise_row(e: DemoEnterprise) -> dict[str, object]:
    now = utcnow()
    return {
        "uscc": e.uscc,
        "name": e.name,
        "county_code": e.county_code,
        "sector": e.sector,
        "subtype": e.subtype,
        "status": e.status,
        "risk_grade": e.risk_grade,
        "key_supervision": e.key_supervision,
        "pair_key": e.pair_key,
        "address": e.address,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }


def _insert_enterprises(session: Session, batch: list[DemoEnterprise]) -> dict[str, int]:
    rows = session.execute(
        insert(Enterprise).returning(Enterprise.id, Enterprise.uscc),
        [_enterprise_row(e) for e in batch],
    ).all()
    ids = {uscc: id_ for id_, uscc in rows}
    tags = [{"enterprise_id": ids[e.uscc], "tag": t} for e in batch for t in e.tags]
    if tags:
        session.execute(insert(EnterpriseTag), tags)
    return ids


def _directory_is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(Enterprise))


def _insert_demo_inspectors(session: Session) -> dict[str, int]:
    """The demo pool's inspectors; their ids by certificate number."""
    inspector_ids: dict[str, int] = {}
    for d in demo_pool().inspectors:
        inspector = Inspector(
            name=d.name,
            cert_no=d.cert_no,
            cert_valid_from=d.cert_valid_from,
            cert_valid_to=d.cert_valid_to,
            unit=d.unit,
            county_code=d.county_code,
            specialties=list(d.specialties),
            active=d.active,
            phone=d.phone,
        )
        session.add(inspector)
        session.flush()
        inspector_ids[d.cert_no] = inspector.id
    return inspector_ids


def load_demo_pool(session: Session) -> dict[str, int]:
    """Load the Hengyang demo pool if the directories are empty; return what was added."""
    if not _directory_is_empty(session):
        return {}
    pool = demo_pool()
    ids = _insert_enterprises(session, list(pool.enterprises))
    inspector_ids = _insert_demo_inspectors(session)
    for c in pool.conflicts:
        session.add(
            ConflictOfInterest(
                inspector_id=inspector_ids[c.cert_no],
                enterprise_id=ids[c.uscc],
                reason=c.reason,
                valid_from=c.valid_from,
                valid_to=c.valid_to,
            )
        )
    for i in pool.inspections:
        session.add(
            Inspection(
                enterprise_id=ids[i.uscc],
                inspected_on=i.date,
                kind=i.kind,
                source=i.source,
                note=i.note,
            )
        )
    record_change(
        session,
        entity="directory",
        entity_id=0,
        action="demo",
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
