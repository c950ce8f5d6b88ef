"""Response headers a public site needs, HEAD on the pages, and redirects without a host.

The public pages carry a Content-Security-Policy that allows only the site's own
static scripts and styles (no inline script; an inline style only by its hash)
and requests back to this site (the in-browser verification and the ceremony
screen read the bundle and the log), and may not be framed; every
answer says `nosniff` and sends no referrer. A redirect's Location is made
relative, so a forged Host header is never reflected. HEAD on a page is
answered as its GET, without the body.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.public.cache import is_public_page

_TEMPLATES = Path(__file__).parent / "templates"
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _style_hashes() -> str:
    """The CSP sources of the templates' inline styles (static text, so hashed once)."""
    hashes = set()
    for template in sorted(_TEMPLATES.glob("*.html")):
        for style in _STYLE.findall(template.read_text(encoding="utf-8")):
            digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
            hashes.add(f"'sha256-{digest}'")
    return " ".join(sorted(hashes))


PAGE_POLICY = (
    "default-src 'none'; "
    "script-src 'self'; "
    f"style-src 'self' {_style_hashes()}; "
    "img-src 'self' data:; "
    "connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
EVERY_ANSWER = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]
PAGE = [
    (b"content-security-policy", PAGE_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
]


def _relative(location: bytes) -> bytes:
    """A Location without scheme and host: `http://evil/draws` -> `/draws`."""
    parts = urlsplit(location.decode("latin-1"))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    # "//evil" would still be another host to a browser.
    return ("/" + path.lstrip("/")).encode("latin-1")


class PublicHeaders:
    """Add the security headers, answer HEAD on pages, and keep redirects on this site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        page = is_public_page(scope["path"])
        head = page and scope["method"] == "HEAD"
        if head:
            scope["method"] = "GET"

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, _relative(value) if name.lower() == b"location" else value)
                    for name, value in message.get("headers", [])
                ]
                headers += EVERY_ANSWER
                content_type = dict(headers).get(b"content-type", b"")
                if page and content_type.startswith(b"text/html"):
                    headers += PAGE
                message = {**message, "headers": headers}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app(scope, receive, secured)
