"""Public pages served again while the public log keeps its size.

Everything a public page shows changes only with an entry of the log (a
commitment, a seed and result, an annulment, a published outcome), so a page
rendered when the log had n entries stays right until entry n+1. The public
reads the same few pages many times between two entries: they are answered
here, before routing, without a worker thread or a database connection.

The log's size here is its latest signed checkpoint's (what pages cite).
Deadlines are read against today's date, so the date is part of a page's key.
Each process re-reads the log's size at most every `ttl` seconds, and at once
after it appended to the log itself; another process's entry shows within `ttl`
(plus one read's time: requests arriving while the size is read use the last one).

So that reads cannot be turned into work, the pages define no query string and
any is ignored (`?bust=<random>` is the same page, from the cache); a page is
rendered by one request at a time, so each page and notice file is rendered at
most once per log size; and renderings are rate-limited per client address
(`limits`), the cached answers are not.

While the log's new entry is being rendered into a page, others asking for that
page get its rendering at the previous log size at once (HTTP's
stale-while-revalidate), rather than all waiting for the one rendering: a page
is then behind the log by one rendering's time, as it already may be by `ttl`.
Only a page never rendered before makes them wait.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import DomainError, problem_response
from app.ledger import tile_store
from app.public.deadlines import beijing_today


class TooManyRenderings(DomainError):
    status = 429
    code = "rate_limited"
    title = "请求过于频繁"


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
        if self._lock.locked() and self._size >= 0:
            # Being read now: the size just read stands meanwhile, rather than every
            # request waiting for one thread (and one connection) under load.
            return self._size
        async with self._lock:
            if time.monotonic() - self._read_at >= self.ttl:
                started = time.monotonic()
                self._size = await run_in_threadpool(_read_size, factory)
                self._read_at = started
        return self._size


def _read_size(factory: sessionmaker[Session]) -> int:
    """The size of the log's latest signed checkpoint, which every page cites: a page
    rendered between an entry's commit and its checkpoint's signature is kept under the
    older size, where the rendering that agrees with that checkpoint already stands."""
    with factory() as session:
        return tile_store.signed_size(session)


@dataclass(frozen=True)
class _Page:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    route: Any  # the matched route, for the request metrics of later hits

    def messages(self) -> list[Message]:
        return [
            {"type": "http.response.start", "status": self.status, "headers": self.headers},
            {"type": "http.response.body", "body": self.body},
        ]


@dataclass
class _Flight:
    """Requests for one page at one log size: the first renders, the rest wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


async def _refusal(
    error: DomainError, headers: dict[str, str], scope: Scope, receive: Receive
) -> list[Message]:
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    await problem_response(error.problem(), headers=headers)(scope, receive, keep)
    return messages


def is_public_page(path: str) -> bool:
    """The server-rendered public pages and their downloads."""
    return path in ("/", "/log", "/draws", "/verify") or path.startswith(
        ("/draws/", "/enterprises/")
    )


class PublicPageCache:
    """Answer anonymous GETs of public pages from the rendering at this log size."""

    def __init__(self, app: ASGIApp, *, renderings: str, capacity: int = 256) -> None:
        self.app = app
        self.capacity = capacity
        self._pages: OrderedDict[tuple[str, int, date], _Page] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering: dict[tuple[str, int, date], _Flight] = {}
        self._rate: RateLimitItem = parse(renderings)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

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
        scope["query_string"] = b""  # the pages define none: `?bust=...` is the same page
        state = scope["app"].state
        log_size = await state.log_version.size(state.sessionmaker)
        # Deadlines are read against today's date: a new day renders the pages anew.
        address = (scope["path"], log_size, beijing_today())
        answer = self._cached(address, scope)
        if answer is None and address in self._rendering:
            answer = self._previous(address, scope)  # being rendered: the last one meanwhile
        if answer is None:
            flight = self._rendering.setdefault(address, _Flight())
            flight.waiting += 1
            try:
                async with flight.lock:  # one rendering of a page at a time
                    answer = self._cached(address, scope) or await self._render(
                        address, scope, receive
                    )
            finally:
                flight.waiting -= 1
                if not flight.waiting:
                    self._rendering.pop(address, None)
        # Sent with no lock held: a client reading slowly keeps no one waiting.
        for message in answer:
            await send(message)

    def _cached(self, address: tuple[str, int, date], scope: Scope) -> list[Message] | None:
        with self._lock:
            page = self._pages.get(address)
            if page is not None:
                self._pages.move_to_end(address)
        if page is None:
            return None
        scope["route"] = page.route  # for the request metrics
        return page.messages()

    def _previous(self, address: tuple[str, int, date], scope: Scope) -> list[Message] | None:
        """The page's newest rendering at a smaller log size, if it is still kept."""
        path, log_size, day = address
        with self._lock:  # at most `capacity` renderings kept: a scan costs little
            sizes = [s for p, s, d in self._pages if p == path and d == day and s < log_size]
        return self._cached((path, max(sizes), day), scope) if sizes else None

    async def _render(
        self, address: tuple[str, int, date], scope: Scope, receive: Receive
    ) -> list[Message]:
        """The page as the application answers it, kept if it is a 200."""
        client = (scope.get("client") or ("unknown", 0))[0]
        if not self._limiter.hit(self._rate, "public-render", client):
            reset = self._limiter.get_window_stats(self._rate, "public-render", client).reset_time
            return await _refusal(
                TooManyRenderings(
                    f"同一地址生成公开页面或公示文件过于频繁（上限 {self._rate}），请稍后再试；"
                    "已生成的页面不受此限"
                ),
                {"Retry-After": str(max(1, int(reset - time.time())))},
                scope,
                receive,
            )
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        await self.app(scope, receive, keep)
        start = next((m for m in messages if m["type"] == "http.response.start"), None)
        if start is not None and start["status"] == 200:
            body = b"".join(
                m.get("body", b"") for m in messages if m["type"] == "http.response.body"
            )
            page = _Page(200, list(start["headers"]), body, scope.get("route"))
            self._put(address, page)
            return page.messages()
        return messages

    def _put(self, address: tuple[str, int, date], page: _Page) -> None:
        with self._lock:
            self._pages[address] = page
            self._pages.move_to_end(address)
            while len(self._pages) > self.capacity:
                self._pages.popitem(last=False)
