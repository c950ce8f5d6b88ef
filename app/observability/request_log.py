"""Request ids, one JSON log line a request, and the HTTP metrics.

Every request gets an id: the client's `X-Request-ID` if it is a sane token,
else a new one. It is bound in structlog's context variables for the request,
so every log line written while serving it carries it (the unexpected-error
log of app.main included), and it is echoed in the `X-Request-ID` response
header, error answers included.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it cannot break a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

_request_log = structlog.stdlib.get_logger("shuangsui.http")

HTTP_REQUESTS = Counter(
    "shuangsui_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "shuangsui_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "route"),
    # Up to minutes: importing a large directory file takes that long.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# Label values are bounded: any other method counts as "other", any path that
# matches no route as "unmatched".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def _route_template(scope: Scope) -> str:
    # The router stores the matched route in the scope (FastAPI and Starlette).
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED


class RequestObservabilityMiddleware:
    """Request id, one JSON log line and the HTTP metrics for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        # Stays 500 if no response starts: an exception escaped every handler.
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = _route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            client = scope.get("client")
            _request_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_ip=client[0] if client else None,
            )
            structlog.contextvars.reset_contextvars(**tokens)
