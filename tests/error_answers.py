"""Every error answer the tests provoke, and whether the document lists it.

The OpenAPI document lists per operation the error codes the code can make
(app.error_catalog reads them from the source). This records, across the
whole test run, every problem answer the application really gave and the
operation that gave it, so that a code the reading misses is caught.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import PROBLEM_JSON

# (method, route template, status, code) of each problem answer seen
OBSERVED: set[tuple[str, str, int, str]] = set()
# Answers not tied to one operation: no route matched, or the server failed.
_NOT_PER_OPERATION = {(405, "method_not_allowed"), (500, "internal_error")}


class RecordErrors:
    """ASGI middleware noting each problem answer with its route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        problem = False
        body = bytearray()

        async def noted(message: Message) -> None:
            nonlocal status, problem
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                problem = headers.get(b"content-type", b"").startswith(PROBLEM_JSON.encode())
            elif message["type"] == "http.response.body" and problem:
                body.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, noted)
        route = getattr(scope.get("route"), "path_format", None)
        if problem and route is not None and body:
            code = str(json.loads(bytes(body)).get("code", ""))
            OBSERVED.add((scope["method"], route, status, code))


def undocumented(document: dict[str, Any]) -> list[str]:
    """The observed answers the document does not list for their operation."""
    missing = []
    for method, route, status, code in sorted(OBSERVED):
        if (status, code) in _NOT_PER_OPERATION:
            continue
        operation = document["paths"].get(route, {}).get(method.lower())
        if operation is None:
            continue  # not in the document at all (a public HTML page)
        listed = operation["responses"].get(str(status), {}).get("x-error-codes", [])
        if code not in listed:
            missing.append(f"{method} {route}: {status} {code} (listed: {listed})")
    return missing
