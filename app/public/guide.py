"""How to verify, on the site itself: the verifier file and its guide (docs/verify.md)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.access.policy import PUBLIC, allow
from app.migrate import PROJECT_ROOT
from app.pools.transfer import attachment
from app.public.docs import templates
from app.routing import TransactionalRoute

VERIFIER = PROJECT_ROOT / "verifier" / "verify.py"
GUIDE = PROJECT_ROOT / "docs" / "verify.md"

router = APIRouter(
    route_class=TransactionalRoute, include_in_schema=False, default_response_class=HTMLResponse
)


@lru_cache(maxsize=1)
def _guide_html(path: Path) -> str:
    from markdown_it import MarkdownIt  # imported here: only this page needs it

    # html=False: the guide's text is shown, never run as markup.
    renderer = MarkdownIt("commonmark", {"html": False}).enable("table")
    html: str = renderer.render(path.read_text(encoding="utf-8"))
    return html


@router.get("/verify.py", dependencies=[allow(PUBLIC)], response_class=Response)
def verifier_file() -> Response:
    """The standalone verifier, byte for byte as in the repository."""
    return Response(
        VERIFIER.read_bytes(),
        media_type="text/x-python; charset=utf-8",
        headers=attachment("verify.py"),
    )


@router.get("/verify", dependencies=[allow(PUBLIC)])
def verify_guide(request: Request) -> Response:
    return templates.TemplateResponse(request, "verify.html", {"guide": _guide_html(GUIDE)})
