"""Roles and the access policy every route declares.

A route names one policy in its dependencies. The policy authenticates the
`X-API-Key` header (if any), then admits the caller's role or answers 401/403.
The application refuses to start if a route has no policy, so nothing is
reachable by accident.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import Request, Security
from fastapi.params import Depends
from fastapi.security import APIKeyHeader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.access.models import ApiKey
from app.errors import Forbidden, Unauthorized
from app.types import utcnow


class Role(StrEnum):
    ADMIN = "admin"  # keys, units, settings; reads everything
    OPERATOR = "operator"  # directories, plans, freezing, ceremonies, outcomes
    WITNESS = "witness"  # confirms a ceremony's seed entry
    AUDITOR = "auditor"  # reads everything, private fields included; writes nothing


ROLE_NAMES = {
    Role.ADMIN: "管理员",
    Role.OPERATOR: "经办人员",
    Role.WITNESS: "见证人",
    Role.AUDITOR: "审计人员",
}

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    scheme_name="APIKey",
    description="API 密钥（由管理员创建，只显示一次）。公开内容无需密钥。",
)

# Updating last-used time on every request would turn reads into writes.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API key's holder, or the anonymous public."""

    key_id: int | None
    name: str
    role: Role | None

    @property
    def client(self) -> str:
        """A stable name for this client, to scope idempotency keys."""
        return f"key:{self.key_id}" if self.key_id is not None else "public"


PUBLIC_PRINCIPAL = Principal(key_id=None, name="anonymous", role=None)


def hash_secret(secret: str) -> str:
    """The stored form of a key. Keys are 256-bit random, so a plain hash suffices."""
    return hashlib.sha256(secret.encode()).hexdigest()


def authenticate(session: Session, secret: str) -> Principal:
    """The holder of this key, or Unauthorized saying why not."""
    key = session.scalars(select(ApiKey).where(ApiKey.secret_sha256 == hash_secret(secret))).first()
    if key is None:
        raise Unauthorized("API 密钥无效：请检查 X-API-Key 请求头", code="invalid_api_key")
    now = utcnow()
    if key.revoked_at is not None:
        raise Unauthorized(
            f"API 密钥 {key.prefix} 已于 {key.revoked_at:%Y-%m-%d} 吊销", code="api_key_revoked"
        )
    if key.expires_at is not None and key.expires_at <= now:
        raise Unauthorized(
            f"API 密钥 {key.prefix} 已于 {key.expires_at:%Y-%m-%d} 过期", code="api_key_expired"
        )
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        session.commit()
    return Principal(key_id=key.id, name=key.name, role=Role(key.role))


class Policy:
    """A dependency admitting the anonymous public or some roles."""

    def __init__(self, name: str, roles: frozenset[Role], *, public: bool = False) -> None:
        self.name = name
        self.roles = roles
        self.public = public

    def __repr__(self) -> str:
        return f"Policy({self.name})"

    def admit(self, request: Request) -> Principal:
        """The caller, from the request's headers alone; 401/403 if this policy refuses them.

        Called by the route before any of the body is read (app.routing), so a
        refused client never gets to send its body.
        """
        principal = PUBLIC_PRINCIPAL
        secret = request.headers.get(API_KEY_HEADER)
        if secret:
            factory: sessionmaker[Session] = request.app.state.sessionmaker
            with factory() as session:
                principal = authenticate(session, secret)
        request.state.principal = principal
        self.check(principal)
        return principal

    def check(self, principal: Principal) -> None:
        """Admit this caller's role, or say why not."""
        if self.public:
            return
        if principal.role is None:
            raise Unauthorized(
                f"此操作需要 API 密钥（请求头 {API_KEY_HEADER}），角色：{self.role_names}",
                code="api_key_required",
            )
        if principal.role not in self.roles:
            raise Forbidden(
                f"角色“{ROLE_NAMES[principal.role]}”无权进行此操作；需要：{self.role_names}",
                code="role_not_allowed",
            )

    def __call__(
        self, request: Request, secret: Annotated[str | None, Security(_api_key)] = None
    ) -> Principal:
        # The route admitted the caller from the headers before reading the body;
        # `secret` is declared so that the API document shows the scheme.
        admitted = getattr(request.state, "principal", None)
        if isinstance(admitted, Principal):
            self.check(admitted)
            return admitted
        return self.admit(request)

    @property
    def role_names(self) -> str:
        return "、".join(ROLE_NAMES[r] for r in Role if r in self.roles)


PUBLIC = Policy("public", frozenset(Role), public=True)
STAFF_READ = Policy("staff_read", frozenset({Role.ADMIN, Role.OPERATOR, Role.AUDITOR}))
OPERATE = Policy("operate", frozenset({Role.OPERATOR}))
WITNESS = Policy("witness", frozenset({Role.WITNESS}))
ADMINISTER = Policy("administer", frozenset({Role.ADMIN}))
OVERSEE = Policy("oversee", frozenset({Role.ADMIN, Role.AUDITOR}))


def allow(policy: Policy) -> Depends:
    """The route dependency for a policy (documented in OpenAPI as the APIKey scheme)."""
    dependency: Depends = Security(policy)
    return dependency


def policy_of(dependencies: list[Depends]) -> Policy | None:
    """The one policy among a route's dependencies."""
    found = [d.dependency for d in dependencies if isinstance(d.dependency, Policy)]
    if len(found) > 1:
        raise RuntimeError(f"a route declares several policies: {found}")
    return found[0] if found else None


def current_principal(request: Request) -> Principal:
    """The caller, as the route's policy authenticated it."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError("route without an access policy")
    return principal
