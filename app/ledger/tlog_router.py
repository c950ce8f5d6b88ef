"""The log read per C2SP tlog-tiles under /tlog/: checkpoint, hash tiles, entry bundles.

Tiles and bundles never change once they exist, so they are cached for a year
(`immutable`); the checkpoint changes with every ceremony step, so caches keep
it a few seconds at most. Every answer under /tlog/ may be read from any web
page (CORS), as a static mirror of the same files would be.
"""

from __future__ import annotations

import gzip
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.access.policy import PUBLIC, allow
from app.db import SessionDep
from app.errors import PROBLEM_RESPONSES
from app.ledger import store
from app.ledger.tile_store import published_tile
from app.ledger.tiles import ENTRIES
from app.routing import TransactionalRoute

PREFIX = "/tlog"
CHECKPOINT_CACHE = "public, max-age=5"
TILE_CACHE = "public, max-age=31536000, immutable"

router = APIRouter(
    route_class=TransactionalRoute, prefix=PREFIX, tags=["tlog"], responses=PROBLEM_RESPONSES
)


@router.get(
    "/checkpoint",
    dependencies=[allow(PUBLIC)],
    summary="最新的签名检查点（C2SP tlog-tiles）",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def read_checkpoint(request: Request, session: SessionDep) -> PlainTextResponse:
    latest = store.signed_checkpoint(session, request.app.state.signer)
    return PlainTextResponse(
        store.published_note(session, latest),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": CHECKPOINT_CACHE},
    )


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header accepts gzip (RFC 9110 12.5.3).

    >>> accepts_gzip("gzip, deflate"), accepts_gzip("gzip;q=0"), accepts_gzip("*")
    (True, False, True)
    """
    wanted: dict[str, bool] = {}
    for item in accept_encoding.lower().split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        q = next((p[2:] for p in params if p.startswith("q=")), "1")
        # qvalue = 0[.ddd] | 1[.000]: anything but zero digits accepts.
        wanted[coding] = any(c in "123456789" for c in q)
    return wanted.get("gzip", wanted.get("x-gzip", wanted.get("*", False)))


@router.get(
    "/tile/{path:path}",
    dependencies=[allow(PUBLIC)],
    summary="哈希瓦片 tile/<L>/<N>[.p/<W>] 与条目包 tile/entries/<N>[.p/<W>]（C2SP tlog-tiles）",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def read_tile(
    request: Request,
    session: SessionDep,
    path: Annotated[str, Path(description="如 0/x001/234、1/000.p/17、entries/005")],
) -> Response:
    found, data = published_tile(session, f"tile/{path}")
    headers = {"Cache-Control": TILE_CACHE}
    if found.level == ENTRIES:
        # Entry bundles compress well; gzip when asked (mtime 0: the same bytes every time).
        headers["Vary"] = "Accept-Encoding"
        if accepts_gzip(request.headers.get("accept-encoding", "")):
            data = gzip.compress(data, mtime=0)
            headers["Content-Encoding"] = "gzip"
    return Response(data, media_type="application/octet-stream", headers=headers)


class ReadCors:
    """Let any web page read /tlog/ (the answers carry no credentials and no secrets),
    and answer HEAD there as GET without the body, as a static server would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX + "/"):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":  # a preflight: reads only
            await send(
                {
                    "type": "http.response.start",
                    "status": 204,
                    "headers": [
                        (b"access-control-allow-origin", b"*"),
                        (b"access-control-allow-methods", b"GET, HEAD"),
                        (b"access-control-max-age", b"86400"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return

        head = scope["method"] == "HEAD"
        if head:
            scope = {**scope, "method": "GET"}

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", b"*"),
                ]
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, with_cors)
