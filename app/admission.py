"""A request's body, received in full and within a deadline before any work starts.

A client that sends headers and then stalls (or trickles its body) must not
hold anything that other clients need: it is received here, outside the bound
on work in flight (app.limits.InFlight), and refused with 408 once it pauses
longer than `body_timeout_seconds` or takes longer than `body_deadline_seconds`
in all. The body is kept in memory up to 1 MB and in a temporary file beyond,
then replayed to the route, which parses it from there at local speed.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from dataclasses import dataclass, field
from typing import IO

from starlette.types import Message, Receive, Scope

from app.errors import DomainError

IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024


class LoneSurrogate(DomainError):
    status = 400
    code = "lone_surrogate"
    title = "请求体含有无法保存的字符"


# A JSON escape of a surrogate: only these can put one into a decoded string.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def refuse_lone_surrogates(content_type: str, body: ReceivedBody) -> None:
    """LoneSurrogate if a JSON body has an unpaired surrogate in any string or key.

    JSON may spell one (`"\\ud800"`), and Python decodes it into a string that no
    encoding can store or send back; paired escapes decode to one character.
    """
    if "json" not in content_type or body.size > IN_MEMORY:
        return  # bodies this large are refused by the size limit
    body.spool.seek(0)
    data = body.spool.read()
    if not _SURROGATE_ESCAPE.search(data):
        return
    try:
        decoded = json.loads(data)
    except ValueError:
        return  # malformed JSON is the route's to refuse
    if _has_surrogate(decoded):
        raise LoneSurrogate(
            "请求体中有不成对的 Unicode 代理项（如 \\ud800），无法保存：请检查文字的编码后重试"
        )


def _has_surrogate(value: object) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, list):
        return any(_has_surrogate(item) for item in value)
    if isinstance(value, dict):
        return any(_has_surrogate(k) or _has_surrogate(v) for k, v in value.items())
    return False


class BodyTimeout(DomainError):
    status = 408
    code = "body_timeout"
    title = "请求体接收超时"


def has_body(scope: Scope) -> bool:
    """The request says a body follows (a length above zero, or chunked)."""
    for name, value in scope["headers"]:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


@dataclass
class ReceivedBody:
    """A body received in full, to be replayed to the route."""

    # Closed by close(), which the route calls once the body has been parsed.
    spool: IO[bytes] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(IN_MEMORY))  # noqa: SIM115
    size: int = 0

    def replay(self, receive: Receive) -> Receive:
        """A receive channel giving the body again, then the client's own (its disconnect)."""
        self.spool.seek(0)
        left = self.size

        async def replayed() -> Message:
            nonlocal left
            if left < 0:
                return await receive()
            chunk = self.spool.read(CHUNK)
            left -= len(chunk)
            more = left > 0
            if not more:
                left = -1
            return {"type": "http.request", "body": chunk, "more_body": more}

        return replayed

    def close(self) -> None:
        self.spool.close()


async def receive_body(receive: Receive, *, pause: float, deadline: float) -> ReceivedBody | None:
    """The whole body, or None if the client went away; BodyTimeout if it is too slow."""
    loop = asyncio.get_running_loop()
    ends = loop.time() + deadline
    body = ReceivedBody()
    try:
        while True:
            wait = min(pause, ends - loop.time())
            try:
                message = await asyncio.wait_for(receive(), timeout=max(wait, 0))
            except TimeoutError:
                raise _timeout(pause, deadline, stalled=wait == pause) from None
            if message["type"] == "http.disconnect":
                body.close()
                return None
            chunk = message.get("body", b"")
            body.spool.write(chunk)
            body.size += len(chunk)
            if not message.get("more_body", False):
                return body
    except BaseException:
        body.close()
        raise


def _timeout(pause: float, deadline: float, *, stalled: bool) -> BodyTimeout:
    if stalled:
        detail = f"请求体发送中断超过 {pause:g} 秒，连接已关闭，未处理该请求"
    else:
        detail = f"请求体未能在 {deadline:g} 秒内发送完毕，连接已关闭，未处理该请求"
    return BodyTimeout(detail)
