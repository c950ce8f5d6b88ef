"""Idempotency keys for POSTs that create things (imports, plans, freezes, reveals).

A client that sends `Idempotency-Key` and retries the same request gets the
first answer again, never a second object. The key is claimed in the request's
own transaction: a concurrent retry waits on the key's row and then replays
the committed answer; a failed first attempt leaves no claim, so its retry
runs afresh. The same key with a different request is refused.
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from sqlalchemy.exc import IntegrityError
from starlette.datastructures import UploadFile

from app.access.models import IdempotencyRecord
from app.access.policy import current_principal
from app.db import SessionDep
from app.errors import InvalidInput

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"


class Replay(Exception):
    """The stored first answer to this request, to be sent again."""

    def __init__(self, record: IdempotencyRecord) -> None:
        super().__init__(record.key)
        self.response = Response(
            content=record.body or b"",
            status_code=record.status_code or 200,
            media_type=record.media_type,
            headers={REPLAYED_HEADER: "true"},
        )


async def _fingerprint(
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=IDEMPOTENCY_HEADER,
            min_length=1,
            max_length=255,
            description="幂等键（可选）：同一键重试同一请求，返回第一次的结果，不会重复创建",
        ),
    ] = None,
) -> tuple[str, str] | None:
    if idempotency_key is None:
        return None
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode() + b"\0")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        # FastAPI has parsed the form already (the raw stream is gone): hash its parts.
        form = await request.form()
        for name, value in form.multi_items():
            digest.update(name.encode() + b"\0")
            if isinstance(value, UploadFile):
                while chunk := await value.read(1 << 20):
                    digest.update(chunk)
                await value.seek(0)
            else:
                digest.update(value.encode())
            digest.update(b"\0")
    else:
        digest.update(await request.body())
    return idempotency_key, digest.hexdigest()


def claim_idempotency_key(
    request: Request,
    session: SessionDep,
    claim: Annotated[tuple[str, str] | None, Depends(_fingerprint)],
) -> None:
    """Replay the first answer for a known key, or claim the key for this request."""
    if claim is None:
        return
    key, fingerprint = claim
    client = current_principal(request).client
    stored = session.get(IdempotencyRecord, (client, key))
    if stored is None:
        record = IdempotencyRecord(
            client=client,
            key=key,
            fingerprint=fingerprint,
            method=request.method,
            path=request.url.path[:500],
        )
        session.add(record)
        try:
            # The claim is this request's first write: a concurrent request with
            # the same key waits here until the first commits, then replays it.
            session.flush()
        except IntegrityError:
            session.rollback()
            stored = session.get(IdempotencyRecord, (client, key))
            if stored is None:  # pragma: no cover - the row that collided is committed
                raise
        else:
            request.state.idempotency = record
            return
    if stored.fingerprint != fingerprint:
        raise InvalidInput(
            f"幂等键“{key}”已用于另一个请求（{stored.method} {stored.path}），"
            "不同的请求请使用新的幂等键",
            code="idempotency_key_reused",
        )
    raise Replay(stored)


def record_response(request: Request, response: Response) -> None:
    """Keep this response as the answer to the claimed key, in the same transaction."""
    record: IdempotencyRecord | None = getattr(request.state, "idempotency", None)
    body = getattr(response, "body", None)
    if record is None or response.status_code >= 500 or not isinstance(body, bytes | memoryview):
        return
    record.status_code = response.status_code
    record.media_type = response.media_type
    record.body = bytes(body)


IDEMPOTENT = Depends(claim_idempotency_key)
