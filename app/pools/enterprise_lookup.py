"""Finding an enterprise by its id or its code."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.pools.models import Enterprise


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
