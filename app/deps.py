"""Request dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Request

from app.access.policy import current_principal
from app.history import Person


def claimed_person(x_actor: str | None) -> str:
    """The person named in X-Actor, decoded."""
    # HTTP headers are Latin-1: Chinese names arrive percent-encoded.
    return unquote(x_actor).strip() if x_actor else ""


def get_actor(
    request: Request,
    x_actor: Annotated[
        str | None,
        Header(
            max_length=300,
            description="经办人姓名（可选），与 API 密钥名称一并记入变更历史；中文请按 UTF-8 百分号编码",
        ),
    ] = None,
) -> str:
    """Who is making this change, as recorded in history: the key's holder, and the person."""
    principal = current_principal(request)
    person = claimed_person(x_actor)
    actor = f"{person}（{principal.name}）" if person else principal.name
    return actor[:100]


ActorDep = Annotated[str, Depends(get_actor)]


def get_person(
    actor: ActorDep, x_actor: Annotated[str | None, Header(include_in_schema=False)] = None
) -> Person:
    """Who acts, for a step that must know the person apart from the key (a witness)."""
    return Person(actor=actor, name=claimed_person(x_actor))


PersonDep = Annotated[Person, Depends(get_person)]
