"""Creating, listing and revoking API keys (an admin's work, or the server's CLI)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access.models import ApiKey
from app.access.policy import Role, hash_secret
from app.errors import Conflict, InvalidInput, NotFound
from app.types import utcnow

KEY_PREFIX = "ssk"


@dataclass(frozen=True)
class IssuedKey:
    """A new key and its secret, which is shown this once and never stored."""

    key: ApiKey
    secret: str


def create_key(
    session: Session, *, name: str, role: Role, actor: str, expires_at: datetime | None
) -> IssuedKey:
    """A new key for a named client, with a role and an optional expiry."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("有效期须晚于当前时间", code="expiry_in_past")
    prefix = secrets.token_hex(4)
    secret = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        name=name,
        role=role.value,
        prefix=prefix,
        secret_sha256=hash_secret(secret),
        created_by=actor,
        created_at=utcnow(),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    return IssuedKey(key=key, secret=secret)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key ever issued, newest first (revoked keys stay listed)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def find_key(session: Session, ref: str) -> ApiKey:
    """A key by its id or its public prefix."""
    key = (
        session.get(ApiKey, int(ref))
        if ref.isdigit()
        else session.scalars(select(ApiKey).where(ApiKey.prefix == ref)).first()
    )
    if key is None:
        raise NotFound(f"没有 API 密钥 {ref}", code="api_key_not_found")
    return key


def revoke_key(session: Session, *, key: ApiKey, actor: str) -> ApiKey:
    """Revoke a key for good; it stays listed with who revoked it and when."""
    if key.revoked_at is not None:
        raise Conflict(
            f"API 密钥 {key.prefix} 已于 {key.revoked_at:%Y-%m-%d} 吊销", code="already_revoked"
        )
    key.revoked_at = utcnow()
    key.revoked_by = actor
    session.flush()
    return key
