"""The route class of every router: one transaction per request, committed last.

The request's session commits after the response has been rendered, together
with the idempotency record of that response, so a created object and the
answer a retry will get are written in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute

from app.idempotency import record_response


def _commit(request: Request, session: Session, response: Response) -> None:
    record_response(request, response)
    session.commit()  # runs the session factory's after-commit hooks (the log's signing)


class TransactionalRoute(APIRoute):
    """A route whose request session commits only once its response is ready."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            response = await handler(request)
            session = getattr(request.state, "session", None)
            if session is not None:
                await run_in_threadpool(_commit, request, session, response)
            return response

        return run


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (which FastAPI mounts lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from api_routes(router.routes)
