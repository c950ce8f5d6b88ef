"""Request dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Header


def get_actor(
    x_actor: Annotated[
        str | None,
        Header(
            max_length=300,
            description="操作人姓名或系统名，记入变更历史；中文请按 UTF-8 百分号编码",
        ),
    ] = None,
) -> str:
    """Who is making this change, as recorded in history."""
    # HTTP headers are Latin-1: Chinese names arrive percent-encoded.
    actor = unquote(x_actor).strip()[:100] if x_actor else ""
    return actor or "anonymous"


ActorDep = Annotated[str, Depends(get_actor)]
