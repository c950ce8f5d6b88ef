"""REST routes of the inspector directory and of the conflicts of interest between
inspectors and enterprises."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select

from app.access.policy import OPERATE, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES
from app.idempotency import IDEMPOTENT
from app.pools import schemas, service
from app.pools.answers import conflict_out, inspector_out, page_of
from app.pools.models import ConflictOfInterest, Inspector
from app.routing import TransactionalRoute
from app.schemas import (
    MAX_PAGE_SIZE,
    MAX_RECORD_ID,
    ChangeOut,
    Page,
    PageQuery,
    RecordId,
    SectorCode,
)

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


# -- inspectors ----------------------------------------------------------------


class InspectorFilters(BaseModel):
    """The list filters of the inspector directory."""

    model_config = ConfigDict(extra="forbid")

    organisation: list[schemas.OrganisationName] = Field(
        default_factory=list, alias="unit", description="所属单位"
    )
    county_code: list[schemas.CountyCode] = Field(
        default_factory=list, alias="county", description="县市区代码或名称"
    )
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
            organisation=self.organisation,
            county_code=self.county_code,
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
    return page_of(
        session, filters.query(), order_by=Inspector.id, paging=filters, out=inspector_out
    )


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
) -> Page[ChangeOut]:
    service.get_inspector(session, inspector_id)
    records = service.changes_of(session, entity="inspector", entity_id=inspector_id)
    return paging.of([ChangeOut.model_validate(r) for r in records])


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
    return page_of(
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
) -> Page[ChangeOut]:
    service.get_conflict(session, conflict_id)
    records = service.changes_of(session, entity="conflict", entity_id=conflict_id)
    return paging.of([ChangeOut.model_validate(r) for r in records])
