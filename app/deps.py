"""Request dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote_to_bytes

from fastapi import Depends, Header, Request

from app.access.policy import current_principal
from app.errors import DomainError, InvalidInput, ProblemItem
from app.history import Actor, Person, actor_of
from app.text import UncleanText, clean_text

# The claimed person is a name, not a story: short enough that the key's name
# always fits beside it in the record (which keeps the key in its own column too).
MAX_PERSON_CHARS = 40


class UndecodableHeader(DomainError):
    status = 400
    code = "undecodable_header"
    title = "请求头无法解码"


def decode_person(raw: str) -> str:
    """The X-Actor header as text: raw UTF-8, or ASCII with UTF-8 percent-encoded.

    HTTP header values arrive as bytes (Starlette hands them over as Latin-1):
    bytes beyond ASCII are taken as UTF-8; an all-ASCII value is percent-decoded.
    Either way the bytes must be valid UTF-8, else 400.
    """
    data = raw.encode("latin-1")
    if data.isascii():
        data = unquote_to_bytes(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UndecodableHeader(
            "请求头 X-Actor 不是合法的 UTF-8：请直接发送 UTF-8，或按 UTF-8 进行百分号编码",
            errors=[
                ProblemItem(loc=["header", "X-Actor"], message="不是合法的 UTF-8", code="utf8")
            ],
        ) from exc


def get_actor(
    request: Request,
    x_actor: Annotated[
        str | None,
        Header(
            description=(
                f"经办人姓名（可选，至多 {MAX_PERSON_CHARS} 字），与 API 密钥名称一并记入变更历史，"
                "如“王某（省执法系统）”；API 密钥另行记录。可直接发送 UTF-8，"
                "也可按 UTF-8 百分号编码（如 %E7%8E%8B%E6%9F%90）"
            ),
        ),
    ] = None,
) -> Actor:
    """Who is making this change, as recorded in history: the person, and the key."""
    person = ""
    if x_actor:
        try:
            person = clean_text(decode_person(x_actor))
        except UncleanText as exc:
            raise _bad_person(str(exc)) from exc
        if len(person) > MAX_PERSON_CHARS:
            raise _bad_person(f"过长，最多 {MAX_PERSON_CHARS} 个字符")
    principal = current_principal(request)
    return actor_of(person, key_name=principal.name, key_id=principal.key_id)


def _bad_person(message: str) -> InvalidInput:
    return InvalidInput(
        f"请求头 X-Actor（经办人）{message}",
        errors=[ProblemItem(loc=["header", "X-Actor"], message=message, code="invalid_actor")],
        code="invalid_actor",
    )


ActorDep = Annotated[Actor, Depends(get_actor)]


def get_person(actor: ActorDep) -> Person:
    """Who acts, for a step that must know the person apart from the key (a witness)."""
    return Person(actor=actor, name=actor.person)


PersonDep = Annotated[Person, Depends(get_person)]
