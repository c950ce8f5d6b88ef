"""The witness over HTTP: POST <prefix>/add-checkpoint, GET <prefix>/<origin hash>/checkpoint.

The submission and monitoring prefixes are both the server's root, or `prefix`.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.witness.core import MAX_BODY_BYTES, Answer, Witness


def _response(answer: Answer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.media_type)


def create_witness_app(witness: Witness, prefix: str = "") -> Starlette:
    """The witness's ASGI application."""

    async def add_checkpoint(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _response(Answer(400, "request too large\n"))
        # SQLite and the signature off the event loop.
        return _response(await run_in_threadpool(witness.add_checkpoint, body))

    async def checkpoint(request: Request) -> Response:
        origin_hash = request.path_params["origin_hash"]
        return _response(await run_in_threadpool(witness.checkpoint, origin_hash))

    prefix = prefix.rstrip("/")
    return Starlette(
        routes=[
            Route(f"{prefix}/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route(f"{prefix}/{{origin_hash:str}}/checkpoint", checkpoint, methods=["GET"]),
        ]
    )
