"""The public page cache while a new log entry is being rendered: readers get the
page at the previous log size at once, each page is still rendered once per log
size, and a page never rendered before is waited for, not invented."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from app.public.cache import PublicPageCache


class Log:
    """The log's size as the cache reads it (app.public.cache.LogVersion's interface)."""

    def __init__(self) -> None:
        self.entries = 1

    async def size(self, factory: Any) -> int:
        return self.entries


class Pages:
    """An application whose page shows the log size it was rendered at; may be held."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.rendered: list[tuple[str, int]] = []
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        at = self.log.entries
        self.rendered.append((scope["path"], at))
        await self.release.wait()
        body = f"{scope['path']} at {at}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


async def _get(cache: PublicPageCache, path: str, log: Log, query: bytes = b"") -> bytes:
    state = SimpleNamespace(log_version=log, sessionmaker=None)
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "headers": [],
        "query_string": query,
        "app": SimpleNamespace(state=state),
        "client": ("192.0.2.1", 4000),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        sent.append(message)

    await cache(scope, receive, send)
    return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def test_readers_get_the_previous_rendering_while_the_new_one_is_made() -> None:
    async def scenario() -> None:
        log = Log()
        pages = Pages(log)
        cache = PublicPageCache(pages, renderings="1000/minute")
        assert await _get(cache, "/draws", log) == b"/draws at 1"

        log.entries = 2  # a ceremony step appended an entry
        pages.release.clear()
        first = asyncio.ensure_future(_get(cache, "/draws", log))
        await asyncio.sleep(0.01)  # the first reader is rendering, and held there
        meanwhile = [await _get(cache, "/draws", log) for _ in range(5)]
        assert meanwhile == [b"/draws at 1"] * 5
        assert not first.done()

        pages.release.set()
        assert await first == b"/draws at 2"
        assert await _get(cache, "/draws", log, b"bust=1") == b"/draws at 2"
        assert pages.rendered == [("/draws", 1), ("/draws", 2)]

    asyncio.run(asyncio.wait_for(scenario(), 10))  # a reader left waiting fails, not hangs


def test_a_page_never_rendered_is_waited_for_and_rendered_once() -> None:
    async def scenario() -> None:
        log = Log()
        pages = Pages(log)
        cache = PublicPageCache(pages, renderings="1000/minute")
        await _get(cache, "/draws", log)  # another page's rendering is no stand-in
        pages.release.clear()
        readers = [asyncio.ensure_future(_get(cache, "/log", log)) for _ in range(4)]
        await asyncio.sleep(0.01)
        assert not any(reader.done() for reader in readers)
        pages.release.set()
        assert await asyncio.gather(*readers) == [b"/log at 1"] * 4
        assert pages.rendered == [("/draws", 1), ("/log", 1)]

    asyncio.run(asyncio.wait_for(scenario(), 10))  # a reader left waiting fails, not hangs


def test_an_evicted_rendering_is_not_served_as_the_previous_one() -> None:
    async def scenario() -> None:
        log = Log()
        pages = Pages(log)
        cache = PublicPageCache(pages, renderings="1000/minute", capacity=2)
        for path in ("/draws", "/log", "/verify"):  # "/draws at 1" is pushed out
            await _get(cache, path, log)
        log.entries = 2
        pages.release.clear()
        readers = [asyncio.ensure_future(_get(cache, "/draws", log)) for _ in range(2)]
        await asyncio.sleep(0.01)
        assert not any(reader.done() for reader in readers)
        pages.release.set()
        assert await asyncio.gather(*readers) == [b"/draws at 2"] * 2

    asyncio.run(asyncio.wait_for(scenario(), 10))  # a reader left waiting fails, not hangs
