"""REST for API keys: an admin creates and revokes, an auditor may look."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from app.access import keys
from app.access.models import ApiKey
from app.access.policy import ADMINISTER, OVERSEE, Role, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES
from app.routing import TransactionalRoute
from app.schemas import Page, PageQuery
from app.text import CleanInput
from app.types import utcnow

router = APIRouter(
    route_class=TransactionalRoute,
    prefix="/api/v1/keys",
    tags=["keys"],
    responses=PROBLEM_RESPONSES,
)


class KeyCreate(CleanInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="使用者名称，如“省执法系统”")
    role: Role = Field(description="角色：admin / operator / witness / auditor")
    expires_at: AwareDatetime | None = Field(default=None, description="失效时间（可选，带时区）")


class KeyOut(BaseModel):
    id: int
    name: str
    role: Role
    prefix: str = Field(description="密钥的公开部分，用于辨认")
    status: Literal["active", "expired", "revoked"]
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None


class KeyIssued(KeyOut):
    secret: str = Field(description="密钥全文：只显示这一次，服务端只保存其哈希")


def key_out(key: ApiKey) -> KeyOut:
    status: Literal["active", "expired", "revoked"] = "active"
    if key.revoked_at is not None:
        status = "revoked"
    elif key.expires_at is not None and key.expires_at <= utcnow():
        status = "expired"
    return KeyOut(
        id=key.id,
        name=key.name,
        role=Role(key.role),
        prefix=key.prefix,
        status=status,
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
        last_used_at=key.last_used_at,
    )


@router.get("", summary="API 密钥：查询", dependencies=[allow(OVERSEE)])
def list_keys(session: SessionDep, paging: Annotated[PageQuery, Query()]) -> Page[KeyOut]:
    return paging.of([key_out(k) for k in keys.list_keys(session)])


@router.post(
    "",
    status_code=201,
    summary="API 密钥：创建（密钥只显示一次）",
    dependencies=[allow(ADMINISTER)],
)
def create_key(session: SessionDep, actor: ActorDep, body: KeyCreate) -> KeyIssued:
    issued = keys.create_key(
        session, name=body.name, role=body.role, actor=actor, expires_at=body.expires_at
    )
    return KeyIssued(**key_out(issued.key).model_dump(), secret=issued.secret)


@router.post("/{key_ref}/revoke", summary="API 密钥：吊销", dependencies=[allow(ADMINISTER)])
def revoke_key(session: SessionDep, actor: ActorDep, key_ref: str) -> KeyOut:
    key = keys.find_key(session, key_ref)
    return key_out(keys.revoke_key(session, key=key, actor=actor))
