"""Operations: JSON logs with request ids, Prometheus metrics, liveness and readiness.

Plumbing, in three parts that know no feature: `logs` (every record as a JSON
line), `request_log` (request ids, the request's log line, the HTTP metrics)
and `ops` (/healthz, /readyz, /metrics). The business figures that /metrics
reports come from the features (app.draws.figures, app.pools.figures), handed
in by create_app.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.types import ASGIApp

from app.observability.logs import configure_logging
from app.observability.ops import FigureSource, ReadinessCheck, router
from app.observability.request_log import RequestObservabilityMiddleware


def install_observability(
    app: FastAPI,
    *,
    figures: Sequence[FigureSource] = (),
    readiness: Sequence[ReadinessCheck] = (),
) -> None:
    """Configure logging, add the request middleware and the ops routes to the app;
    /metrics reports `figures` besides the HTTP counters, /readyz also asks each
    of `readiness` (a feature's own reason not to serve)."""
    configure_logging()
    app.state.figures = tuple(figures)
    app.state.readiness = tuple(readiness)
    app.include_router(router)
    build_stack = app.build_middleware_stack

    def build_stack_with_request_ids() -> ASGIApp:
        return RequestObservabilityMiddleware(build_stack())

    # Outermost, around Starlette's ServerErrorMiddleware, which app.add_middleware
    # cannot wrap: so the 500 answer to an unexpected error also carries the
    # request id, is counted and logged with its status, and the error's log
    # line has the request id.
    app.build_middleware_stack = build_stack_with_request_ids  # type: ignore[method-assign]
