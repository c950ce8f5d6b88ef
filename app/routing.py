"""The route class of every router: admission first, one transaction per request, committed last.

A request is admitted from its headers alone: the route's access policy checks
the caller's key before a byte of the body is read, and a refused client is
answered at once (and the connection closed, so its body is never received).
The body is then received in full, within a deadline (app.admission), and only
then does the request take a slot among the work in flight (app.limits.InFlight).

The request's session commits after the response has been rendered, together
with the idempotency record of that response, so a created object and the
answer a retry will get are written in one transaction or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send

from app.access.policy import API_KEY_HEADER, Policy, policy_of
from app.admission import ReceivedBody, has_body, receive_body, refuse_lone_surrogates
from app.errors import DomainError, problem_response
from app.idempotency import record_response
from app.limits import InFlight

# Routes that touch no database take no slot, so they answer while all are taken.
UNGATED = frozenset({"/healthz"})


def _commit(request: Request, session: Session, response: Response) -> None:
    record_response(request, response)
    session.commit()  # runs the session factory's after-commit hooks (the log's signing)


class TransactionalRoute(APIRoute):
    """A route whose request session commits only once its response is ready."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            async with _in_flight(request.scope, self.path):
                response = await handler(request)
                session = getattr(request.state, "session", None)
                if session is not None:
                    await run_in_threadpool(_commit, request, session, response)
            return response

        return run

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in (self.methods or ()):
            await super().handle(scope, receive, send)  # 405 and the like
            return
        body: ReceivedBody | None = None
        try:
            await _admit(scope, self.policy, self.path)
            if has_body(scope):
                settings = scope["app"].state.settings
                body = await receive_body(
                    receive,
                    pause=settings.body_timeout_seconds,
                    deadline=settings.body_deadline_seconds,
                )
                if body is None:
                    return  # the client went away: nobody to answer
                refuse_lone_surrogates(Request(scope).headers.get("content-type", ""), body)
        except DomainError as refusal:
            if body is not None:
                body.close()
            # The body, if any, stays unread: the connection is closed after the answer.
            close = {"Connection": "close"} if has_body(scope) else None
            await problem_response(refusal.problem(), headers=close)(scope, receive, send)
            return
        try:
            await super().handle(scope, body.replay(receive) if body else receive, send)
        finally:
            if body is not None:
                body.close()

    @property
    def policy(self) -> Policy:
        policy = policy_of(self.dependencies)
        if policy is None:  # create_app refuses to start with such a route
            raise RuntimeError(f"route {self.path} declares no access policy")
        return policy


async def _admit(scope: Scope, policy: Policy, path: str) -> None:
    """Check the caller against the route's policy, from the headers alone."""
    request = Request(scope)
    if not request.headers.get(API_KEY_HEADER):
        policy.admit(request)  # anonymous: nothing to look up
        return
    async with _in_flight(scope, path):
        await run_in_threadpool(policy.admit, request)


def _in_flight(scope: Scope, path: str) -> AbstractAsyncContextManager[None]:
    gate: InFlight = scope["app"].state.in_flight
    return nullcontext() if path in UNGATED else gate.slot()


def api_routes(routes: Iterable[BaseRoute]) -> Iterator[APIRoute]:
    """Every API route, also those of included routers (which FastAPI mounts lazily)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from api_routes(router.routes)
