"""Limits on request bodies (size, enforced while the body arrives) and on work in flight.

JSON bodies are small (a plan is a few kilobytes); only file uploads may be
large. A declared Content-Length over the limit is refused before anything is
read; a body that grows past it while streaming is refused as soon as it does.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON, PayloadTooLarge


def _megabytes(limit: int) -> str:
    return f"{limit / (1024 * 1024):g} MB"


class BodySizeLimit:
    """Refuse request bodies over `max_body` bytes, or `max_upload` for multipart uploads."""

    def __init__(self, app: ASGIApp, *, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        upload = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        limit = self.max_upload if upload else self.max_body
        what = "上传文件" if upload else "请求体"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _refuse(send, f"{what}超过 {_megabytes(limit)} 上限")
            return
        received = 0
        exceeded = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # The app sees the client go away and stops reading; whatever
                    # it answers to that is replaced by the 413 below.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        refused = False

        async def answered(message: Message) -> None:
            nonlocal refused
            if not exceeded:
                await send(message)
            elif message["type"] == "http.response.start" and not refused:
                refused = True
                await _refuse(send, f"{what}超过 {_megabytes(limit)} 上限")

        await self.app(scope, counted, answered)
        if exceeded and not refused:  # the app took the cut-off for the client going away
            await _refuse(send, f"{what}超过 {_megabytes(limit)} 上限")


async def _refuse(send: Send, detail: str) -> None:
    problem = PayloadTooLarge(detail).problem().model_dump(mode="json", exclude_none=True)
    body = json.dumps(problem, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class InFlight:
    """At most `limit` requests at work at once; the rest wait their turn.

    Each request holds at most one database connection at a time, but holds it
    across several worker-thread hops (the route, then the commit). If more
    requests were at work than there are connections, those waiting for a
    connection could hold every worker thread while those holding a connection
    wait for a thread to commit in: all would stall until the pool's timeout.
    Keeping the number at work within the pool's size makes that impossible;
    waiting here costs no thread and no connection.

    Only work takes a slot (app.routing): checking the caller's key, then the
    route and its commit. A client still sending its body, or reading its
    answer, holds none, so slow clients cannot keep others waiting.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._gate: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._gate is None:  # made inside the running event loop
            self._gate = asyncio.Semaphore(self.limit)
        async with self._gate:
            yield
