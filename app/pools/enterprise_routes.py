"""REST routes of the enterprise directory: list, read, create, change, retire, restore, history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select

from app.access.policy import OPERATE, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES
from app.idempotency import IDEMPOTENT
from app.pools import schemas, service
from app.pools.answers import enterprise_out, inspection_out, page_of
from app.pools.models import Enterprise, Inspection
from app.routing import TransactionalRoute
from app.schemas import (
    MAX_PAGE_SIZE,
    ChangeOut,
    Page,
    PageQuery,
    RecordId,
    RiskGradeCode,
    SectorCode,
    StatusCode,
    SubtypeCode,
    TagCode,
)

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


# -- enterprises ---------------------------------------------------------------


class EnterpriseFilters(BaseModel):
    """The list filters of the enterprise directory; repeat a parameter for OR."""

    model_config = ConfigDict(extra="forbid")

    county_code: list[schemas.CountyCode] = Field(
        default_factory=list, alias="county", description="县市区代码或名称"
    )
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
            county_code=self.county_code,
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
    return page_of(
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
) -> Page[ChangeOut]:
    service.get_enterprise(session, enterprise_id)
    records = service.changes_of(session, entity="enterprise", entity_id=enterprise_id)
    return paging.of([ChangeOut.model_validate(r) for r in records])


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
    return page_of(
        session, stmt, order_by=order, paging=paging, out=lambda i: inspection_out(session, i)
    )
