"""REST routes of the directories: enterprises, inspectors, conflicts, inspections."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Protocol, TypeVar

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select

from app import reference as ref
from app.access.policy import OPERATE, PUBLIC, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES
from app.idempotency import IDEMPOTENT
from app.pools import schemas, service
from app.pools.models import ConflictOfInterest, Enterprise, Inspection, Inspector
from app.routing import TransactionalRoute
from app.schemas import (
    MAX_PAGE_SIZE,
    MAX_RECORD_ID,
    InspectionKindCode,
    Page,
    PageQuery,
    RecordId,
    ReferenceData,
    RiskGradeCode,
    SectorCode,
    StatusCode,
    SubtypeCode,
    TagCode,
)

R = TypeVar("R")
Out = TypeVar("Out")

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


def enterprise_out(e: Enterprise) -> schemas.EnterpriseOut:
    """The API view of an enterprise."""
    return schemas.EnterpriseOut(
        id=e.id,
        uscc=e.uscc,
        name=e.name,
        county=e.county_code,
        county_name=ref.COUNTY_BY_CODE[e.county_code].name,
        sector=e.sector,
        subtype=e.subtype,
        status=e.status,
        risk_grade=e.risk_grade,
        key_supervision=e.key_supervision,
        tags=e.tags,
        pair_key=e.pair_key,
        address=e.address,
        created_at=e.created_at,
        updated_at=e.updated_at,
        retired_at=e.retired_at,
        retired_reason=e.retired_reason,
        version=e.version,
    )


def inspector_out(i: Inspector) -> schemas.InspectorOut:
    """The API view of an inspector."""
    return schemas.InspectorOut(
        id=i.id,
        name=i.name,
        cert_no=i.cert_no,
        cert_valid_from=i.cert_valid_from,
        cert_valid_to=i.cert_valid_to,
        unit=i.unit,
        county=i.county_code,
        specialties=list(i.specialties),
        active=i.active,
        phone=i.phone,
        created_at=i.created_at,
        updated_at=i.updated_at,
        retired_at=i.retired_at,
        version=i.version,
    )


def conflict_out(session: SessionDep, c: ConflictOfInterest) -> schemas.ConflictOut:
    """The API view of a recusal pair, naming both parties."""
    inspector = service.get_inspector(session, c.inspector_id)
    enterprise = service.get_enterprise(session, c.enterprise_id)
    return schemas.ConflictOut(
        id=c.id,
        inspector_id=inspector.id,
        cert_no=inspector.cert_no,
        inspector_name=inspector.name,
        enterprise_id=enterprise.id,
        uscc=enterprise.uscc,
        enterprise_name=enterprise.name,
        reason=c.reason,
        valid_from=c.valid_from,
        valid_to=c.valid_to,
        version=c.version,
    )


def inspection_out(session: SessionDep, i: Inspection) -> schemas.InspectionOut:
    """The API view of an inspection record."""
    enterprise = service.get_enterprise(session, i.enterprise_id)
    return schemas.InspectionOut(
        id=i.id,
        enterprise_id=enterprise.id,
        uscc=enterprise.uscc,
        enterprise_name=enterprise.name,
        inspected_on=i.inspected_on,
        kind=i.kind,
        source=i.source,
        note=i.note,
        created_at=i.created_at,
    )


class _Paging(Protocol):
    page: int
    page_size: int


def _page(
    session: SessionDep,
    stmt: Select[R],
    *,
    order_by: Any,
    paging: _Paging,
    out: Callable[[R], Out],
) -> Page[Out]:
    """One page of a query's records, each as the API shows it."""
    items, total = service.paginate(
        session, stmt, order_by=order_by, page=paging.page, page_size=paging.page_size
    )
    return Page(
        items=[out(r) for r in items], total=total, page=paging.page, page_size=paging.page_size
    )


# -- enterprises ---------------------------------------------------------------


class EnterpriseFilters(BaseModel):
    """The list filters of the enterprise directory; repeat a parameter for OR."""

    model_config = ConfigDict(extra="forbid")

    county: list[schemas.CountyCode] = Field(default_factory=list, description="县市区代码或名称")
    sector: list[SectorCode] = Field(default_factory=list, description="行业领域代码")
    subtype: list[SubtypeCode] = Field(default_factory=list, description="企业类别代码")
    status: list[StatusCode] = Field(default_factory=list, description="经营状态代码")
    risk_grade: list[RiskGradeCode] = Field(default_factory=list, description="风险等级")
    tag: list[TagCode] = Field(default_factory=list, description="标签代码（多个须同时具备）")
    key_supervision: bool | None = Field(default=None, description="是否重点监管")
    q: str | None = Field(default=None, max_length=100, description="名称、代码或地址中的文字")
    include_retired: bool = Field(default=False, description="是否包括已注销企业")
    page: int = Field(default=1, ge=1, le=1_000_000, description="页码，从 1 开始")
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE, description="每页条数")

    def query(self) -> Select[Enterprise]:
        """The matching enterprises."""
        return service.enterprise_query(
            county=self.county,
            sector=self.sector,
            subtype=self.subtype,
            status=self.status,
            risk_grade=self.risk_grade,
            tag=self.tag,
            key_supervision=self.key_supervision,
            q=self.q,
            include_retired=self.include_retired,
        )


@router.get(
    "/enterprises", dependencies=[allow(STAFF_READ)], tags=["enterprises"], summary="企业名录：查询"
)
def list_enterprises(
    session: SessionDep, filters: Annotated[EnterpriseFilters, Query()]
) -> Page[schemas.EnterpriseOut]:
    return _page(
        session, filters.query(), order_by=Enterprise.id, paging=filters, out=enterprise_out
    )


@router.post(
    "/enterprises",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["enterprises"],
    summary="企业名录：新增",
)
def create_enterprise(
    session: SessionDep, actor: ActorDep, body: schemas.EnterpriseCreate
) -> schemas.EnterpriseOut:
    return enterprise_out(service.create_enterprise(session, data=body, actor=actor))


@router.get(
    "/enterprises/by-uscc/{uscc}",
    dependencies=[allow(STAFF_READ)],
    tags=["enterprises"],
    summary="企业名录：按信用代码读取",
)
def read_enterprise_by_uscc(
    session: SessionDep, uscc: Annotated[str, Path(max_length=18)]
) -> schemas.EnterpriseOut:
    return enterprise_out(service.enterprise_by_uscc(session, uscc.strip().upper()))


@router.get(
    "/enterprises/{enterprise_id}",
    dependencies=[allow(STAFF_READ)],
    tags=["enterprises"],
    summary="企业名录：读取",
)
def read_enterprise(session: SessionDep, enterprise_id: RecordId) -> schemas.EnterpriseOut:
    return enterprise_out(service.get_enterprise(session, enterprise_id))


@router.patch(
    "/enterprises/{enterprise_id}",
    dependencies=[allow(OPERATE)],
    tags=["enterprises"],
    summary="企业名录：修改",
)
def update_enterprise(
    session: SessionDep, actor: ActorDep, enterprise_id: RecordId, body: schemas.EnterpriseUpdate
) -> schemas.EnterpriseOut:
    enterprise = service.get_enterprise(session, enterprise_id)
    service.update_enterprise(
        session, enterprise=enterprise, data=body, actor=actor, version=body.version
    )
    return enterprise_out(enterprise)


@router.post(
    "/enterprises/{enterprise_id}/retire",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["enterprises"],
    summary="企业名录：注销（不删除）",
)
def retire_enterprise(
    session: SessionDep, actor: ActorDep, enterprise_id: RecordId, body: schemas.Retire
) -> schemas.EnterpriseOut:
    enterprise = service.get_enterprise(session, enterprise_id)
    service.retire_enterprise(session, enterprise=enterprise, reason=body.reason, actor=actor)
    return enterprise_out(enterprise)


@router.post(
    "/enterprises/{enterprise_id}/restore",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["enterprises"],
    summary="企业名录：恢复",
)
def restore_enterprise(
    session: SessionDep, actor: ActorDep, enterprise_id: RecordId
) -> schemas.EnterpriseOut:
    enterprise = service.get_enterprise(session, enterprise_id)
    service.restore_enterprise(session, enterprise=enterprise, actor=actor)
    return enterprise_out(enterprise)


@router.get(
    "/enterprises/{enterprise_id}/history",
    dependencies=[allow(STAFF_READ)],
    tags=["enterprises"],
    summary="企业名录：变更历史",
)
def enterprise_history(
    session: SessionDep, enterprise_id: RecordId, paging: Annotated[PageQuery, Query()]
) -> Page[schemas.ChangeOut]:
    service.get_enterprise(session, enterprise_id)
    records = service.history(session, entity="enterprise", entity_id=enterprise_id)
    return paging.of([schemas.ChangeOut.model_validate(r) for r in records])


@router.get(
    "/enterprises/{enterprise_id}/inspections",
    dependencies=[allow(STAFF_READ)],
    tags=["enterprises"],
    summary="企业名录：检查记录",
)
def enterprise_inspections(
    session: SessionDep, enterprise_id: RecordId, paging: Annotated[PageQuery, Query()]
) -> Page[schemas.InspectionOut]:
    service.get_enterprise(session, enterprise_id)
    stmt = service.inspection_query(enterprise_id=enterprise_id)
    order = (Inspection.inspected_on, Inspection.id)
    return _page(
        session, stmt, order_by=order, paging=paging, out=lambda i: inspection_out(session, i)
    )


# -- inspectors ----------------------------------------------------------------


class InspectorFilters(BaseModel):
    """The list filters of the inspector directory."""

    model_config = ConfigDict(extra="forbid")

    unit: list[schemas.UnitName] = Field(default_factory=list, description="所属单位")
    county: list[schemas.CountyCode] = Field(default_factory=list, description="县市区代码或名称")
    specialty: SectorCode | None = Field(default=None, description="专业领域代码")
    active: bool | None = Field(default=None, description="是否在岗")
    valid_on: date | None = Field(default=None, description="执法证在该日有效")
    q: str | None = Field(default=None, max_length=100, description="姓名或执法证号中的文字")
    include_retired: bool = False
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)

    def query(self) -> Select[Inspector]:
        """The matching inspectors."""
        return service.inspector_query(
            unit=self.unit,
            county=self.county,
            specialty=self.specialty,
            active=self.active,
            valid_on=self.valid_on,
            q=self.q,
            include_retired=self.include_retired,
        )


@router.get(
    "/inspectors",
    dependencies=[allow(STAFF_READ)],
    tags=["inspectors"],
    summary="执法人员名录：查询",
)
def list_inspectors(
    session: SessionDep, filters: Annotated[InspectorFilters, Query()]
) -> Page[schemas.InspectorOut]:
    return _page(session, filters.query(), order_by=Inspector.id, paging=filters, out=inspector_out)


@router.post(
    "/inspectors",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["inspectors"],
    summary="执法人员名录：新增",
)
def create_inspector(
    session: SessionDep, actor: ActorDep, body: schemas.InspectorCreate
) -> schemas.InspectorOut:
    return inspector_out(service.create_inspector(session, data=body, actor=actor))


@router.get(
    "/inspectors/{inspector_id}",
    dependencies=[allow(STAFF_READ)],
    tags=["inspectors"],
    summary="执法人员名录：读取",
)
def read_inspector(session: SessionDep, inspector_id: RecordId) -> schemas.InspectorOut:
    return inspector_out(service.get_inspector(session, inspector_id))


@router.patch(
    "/inspectors/{inspector_id}",
    dependencies=[allow(OPERATE)],
    tags=["inspectors"],
    summary="执法人员名录：修改",
)
def update_inspector(
    session: SessionDep, actor: ActorDep, inspector_id: RecordId, body: schemas.InspectorUpdate
) -> schemas.InspectorOut:
    inspector = service.get_inspector(session, inspector_id)
    service.update_inspector(
        session, inspector=inspector, data=body, actor=actor, version=body.version
    )
    return inspector_out(inspector)


@router.post(
    "/inspectors/{inspector_id}/retire",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    tags=["inspectors"],
    summary="执法人员名录：移出（不删除）",
)
def retire_inspector(
    session: SessionDep, actor: ActorDep, inspector_id: RecordId, body: schemas.Retire
) -> schemas.InspectorOut:
    inspector = service.get_inspector(session, inspector_id)
    service.retire_inspector(session, inspector=inspector, reason=body.reason, actor=actor)
    return inspector_out(inspector)


@router.get(
    "/inspectors/{inspector_id}/history",
    dependencies=[allow(STAFF_READ)],
    tags=["inspectors"],
    summary="执法人员名录：变更历史",
)
def inspector_history(
    session: SessionDep, inspector_id: RecordId, paging: Annotated[PageQuery, Query()]
) -> Page[schemas.ChangeOut]:
    service.get_inspector(session, inspector_id)
    records = service.history(session, entity="inspector", entity_id=inspector_id)
    return paging.of([schemas.ChangeOut.model_validate(r) for r in records])


# -- conflicts of interest ----------------------------------------------------


class ConflictFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inspector_id: int | None = Field(default=None, ge=1, le=MAX_RECORD_ID)
    enterprise_id: int | None = Field(default=None, ge=1, le=MAX_RECORD_ID)
    active_on: date | None = Field(default=None, description="在该日有效的回避")
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@router.get(
    "/conflicts", dependencies=[allow(STAFF_READ)], tags=["conflicts"], summary="回避关系：查询"
)
def list_conflicts(
    session: SessionDep, filters: Annotated[ConflictFilters, Query()]
) -> Page[schemas.ConflictOut]:
    stmt = service.conflict_query(
        inspector_id=filters.inspector_id,
        enterprise_id=filters.enterprise_id,
        active_on=filters.active_on,
    )
    return _page(
        session,
        stmt,
        order_by=ConflictOfInterest.id,
        paging=filters,
        out=lambda c: conflict_out(session, c),
    )


@router.post(
    "/conflicts",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["conflicts"],
    summary="回避关系：登记",
)
def create_conflict(
    session: SessionDep, actor: ActorDep, body: schemas.ConflictCreate
) -> schemas.ConflictOut:
    return conflict_out(session, service.create_conflict(session, data=body, actor=actor))


@router.get(
    "/conflicts/{conflict_id}",
    dependencies=[allow(STAFF_READ)],
    tags=["conflicts"],
    summary="回避关系：读取",
)
def read_conflict(session: SessionDep, conflict_id: RecordId) -> schemas.ConflictOut:
    return conflict_out(session, service.get_conflict(session, conflict_id))


@router.patch(
    "/conflicts/{conflict_id}",
    dependencies=[allow(OPERATE)],
    tags=["conflicts"],
    summary="回避关系：修改原因或结束日期",
)
def update_conflict(
    session: SessionDep, actor: ActorDep, conflict_id: RecordId, body: schemas.ConflictUpdate
) -> schemas.ConflictOut:
    conflict = service.get_conflict(session, conflict_id)
    service.update_conflict(session, conflict=conflict, data=body, actor=actor)
    return conflict_out(session, conflict)


@router.get(
    "/conflicts/{conflict_id}/history",
    dependencies=[allow(STAFF_READ)],
    tags=["conflicts"],
    summary="回避关系：变更历史",
)
def conflict_history(
    session: SessionDep, conflict_id: RecordId, paging: Annotated[PageQuery, Query()]
) -> Page[schemas.ChangeOut]:
    service.get_conflict(session, conflict_id)
    records = service.history(session, entity="conflict", entity_id=conflict_id)
    return paging.of([schemas.ChangeOut.model_validate(r) for r in records])


# -- inspection history ------------------------------------------------------


class InspectionFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uscc: str | None = Field(default=None, max_length=18)
    kind: list[InspectionKindCode] = Field(default_factory=list, description="检查类型代码")
    date_from: date | None = None
    date_to: date | None = None
    page: int = Field(default=1, ge=1, le=1_000_000)
    page_size: int = Field(default=50, ge=1, le=MAX_PAGE_SIZE)


@router.get(
    "/inspections", dependencies=[allow(STAFF_READ)], tags=["inspections"], summary="检查记录：查询"
)
def list_inspections(
    session: SessionDep, filters: Annotated[InspectionFilters, Query()]
) -> Page[schemas.InspectionOut]:
    enterprise_id = (
        service.enterprise_by_uscc(session, filters.uscc.strip().upper()).id
        if filters.uscc
        else None
    )
    stmt = service.inspection_query(
        enterprise_id=enterprise_id,
        kind=filters.kind,
        date_from=filters.date_from,
        date_to=filters.date_to,
    )
    return _page(
        session,
        stmt,
        order_by=Inspection.id,
        paging=filters,
        out=lambda i: inspection_out(session, i),
    )


@router.post(
    "/inspections",
    dependencies=[allow(OPERATE), IDEMPOTENT],
    status_code=status.HTTP_201_CREATED,
    tags=["inspections"],
    summary="检查记录：登记",
)
def create_inspection(
    session: SessionDep, actor: ActorDep, body: schemas.InspectionCreate
) -> schemas.InspectionOut:
    return inspection_out(session, service.create_inspection(session, data=body, actor=actor))


# -- reference data ------------------------------------------------------------


@router.get(
    "/reference",
    dependencies=[allow(PUBLIC)],
    tags=["reference"],
    summary="代码表：县市区、行业、类别、状态、标签、单位",
    response_model=ReferenceData,
)
def reference_data() -> dict[str, object]:
    return {
        "counties": [
            {"code": c.code, "name": c.name, "full_name": c.full_name, "kind": c.kind}
            for c in ref.COUNTIES
        ],
        "sectors": [{"code": t.code, "label": t.label} for t in ref.SECTORS],
        "subtypes": [
            {"code": t.code, "label": t.label, "sector": sector}
            for sector, terms in ref.SUBTYPES.items()
            for t in terms
        ],
        "statuses": [{"code": t.code, "label": t.label} for t in ref.STATUSES],
        "risk_grades": [{"code": t.code, "label": t.label} for t in ref.RISK_GRADES],
        "tags": [{"code": t.code, "label": t.label} for t in ref.TAGS],
        "inspection_kinds": [{"code": t.code, "label": t.label} for t in ref.INSPECTION_KINDS],
        "units": [{"name": u.name, "kind": u.kind, "county": u.county_code} for u in ref.UNITS],
    }
