"""Public pages served again while the public log keeps its size.

Everything a public page shows changes only with an entry of the log (a
commitment, a seed and result, an annulment, a published outcome), so a page
rendered when the log had n entries stays right until entry n+1. The public
reads the same few pages many times between two entries: they are answered
here, before routing, without a worker thread or a database connection.

Deadlines are read against today's date, so the date is part of a page's key.
Each process re-reads the log's size at most every `ttl` seconds, and at once
after it appended to the log itself; another process's entry shows within `ttl`.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.ledger import store
from app.public.deadlines import beijing_today


class LogVersion:
    """The log's size as this process last read it."""

    def __init__(self, ttl: float = 0.5) -> None:
        self.ttl = ttl
        self._size = -1
        self._read_at = float("-inf")
        self._lock: asyncio.Lock | None = None

    def expire(self) -> None:
        """This process appended to the log: read the size again before the next page."""
        self._read_at = float("-inf")

    async def size(self, factory: sessionmaker[Session]) -> int:
        if time.monotonic() - self._read_at < self.ttl:
            return self._size
        if self._lock is None:  # made inside the running event loop
            self._lock = asyncio.Lock()
        async with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                started = time.monotonic()
                self._size = await run_in_threadpool(_read_size, factory)
                self._read_at = started
        return self._size


def _read_size(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return store.size(session)


@dataclass(frozen=True)
class _Page:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the matched route, for the request metrics of later hits


def is_public_page(path: str) -> bool:
    """The server-rendered public pages and their downloads."""
    return path in ("/", "/log", "/draws", "/verify") or path.startswith(
        ("/draws/", "/enterprises/")
    )


class PublicPageCache:
    """Answer anonymous GETs of public pages from the rendering at this log size."""

    def __init__(self, app: ASGIApp, *, capacity: int = 256) -> None:
        self.app = app
        self.capacity = capacity
        self._pages: OrderedDict[tuple[str, int, date], _Page] = OrderedDict()
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not is_public_page(scope["path"])
            # A caller with a key is authenticated by the route's policy, every time.
            or any(name == b"x-api-key" and value.strip() for name, value in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        log_size = await state.log_version.size(state.sessionmaker)
        # Deadlines are read against today's date: a new day renders the pages anew.
        address = (
            f"{scope['path']}?{scope['query_string'].decode('latin-1')}",
            log_size,
            beijing_today(),
        )
        with self._lock:
            page = self._pages.get(address)
            if page is not None:
                self._pages.move_to_end(address)
        if page is not None:
            scope["route"] = page.route
            await send(
                {"type": "http.response.start", "status": page.status, "headers": page.headers}
            )
            await send({"type": "http.response.body", "body": page.body})
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start and start["status"] == 200:
                    self._put(
                        address,
                        _Page(200, list(start["headers"]), b"".join(chunks), scope.get("route")),
                    )
            await send(message)

        await self.app(scope, receive, keep)

    def _put(self, address: tuple[str, int, date], page: _Page) -> None:
        with self._lock:
            self._pages[address] = page
            self._pages.move_to_end(address)
            while len(self._pages) > self.capacity:
                self._pages.popitem(last=False)
