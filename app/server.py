"""uvicorn's httptools protocol with the limits a server facing the network needs.

Before the application sees a request its request line and headers must be
complete, so uvicorn alone would wait for them for ever and keep however many
bytes they take. This protocol answers 431 once the request line and headers
pass `max_header_bytes`, and 408 (closing the connection) when they are not
complete within `header_timeout_seconds` of the connection being opened or of
the previous answer. `shuangsui serve` runs uvicorn with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import get_settings

PROTOCOL = "app.server:GuardedHttpToolsProtocol"


class HeadTooLarge(Exception):
    """The request line and headers are over the limit."""


def _answer(status: bytes, text: str) -> bytes:
    body = text.encode()
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"content-type: text/plain; charset=utf-8\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n"
        b"connection: close\r\n\r\n" + body
    )


TOO_LARGE = _answer(b"431 Request Header Fields Too Large", "请求行与请求头过大\n")
TOO_SLOW = _answer(b"408 Request Timeout", "请求头发送超时\n")


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a size limit and a deadline on each request's head."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.max_head = settings.max_header_bytes
        self.head_timeout = settings.header_timeout_seconds
        self.head_bytes = 0  # received of the current request's head
        self.in_head = True  # between two requests, or inside a head
        self.head_started = False
        self.head_size = 0  # the request line and headers as parsed
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # uvicorn's, but telling a head over the limit (431) from a malformed one (400).
        self._unset_keepalive_if_required()
        if self.in_head:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as error:
            if isinstance(error.__context__, HeadTooLarge):
                self._refuse(TOO_LARGE)
            else:
                self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserError:
            self.send_400_response("Invalid HTTP request received.")
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        # httptools keeps a header until it is whole: count what has arrived of it.
        if self.in_head and self.head_bytes > self.max_head:
            self._refuse(TOO_LARGE)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_started = True
        self.head_size = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._count(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._count(len(name) + len(value) + 4)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        self.in_head = False
        self.head_started = False
        self.head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.in_head:
            self._arm_head_timer()

    def _count(self, size: int) -> None:
        self.head_size += size
        if self.head_size > self.max_head:
            raise HeadTooLarge

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_started or self.head_bytes:
            self.transport.write(TOO_SLOW)
        self.transport.close()

    def _refuse(self, answer: bytes) -> None:
        self._disarm_head_timer()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()
