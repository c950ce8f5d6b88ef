"""Request dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header, Request

from app.access.policy import current_principal


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
    # HTTP headers are Latin-1: Chinese names arrive percent-encoded.
    person = unquote(x_actor).strip() if x_actor else ""
    actor = f"{person}（{principal.name}）" if person else principal.name
    return actor[:100]


ActorDep = Annotated[str, Depends(get_actor)]
