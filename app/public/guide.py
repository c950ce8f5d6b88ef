"""How to verify, on the site itself: the verifier file and its guide (docs/verify.md)."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from app.access.policy import PUBLIC, allow
from app.downloads import attachment
from app.migrate import PROJECT_ROOT
from app.public.docs import templates
from app.routing import TransactionalRoute

VERIFIER = PROJECT_ROOT / "verifier" / "verify.py"
VERIFIER_PACKAGE = "shuangsui_verify"
# `python verifier.zip BUNDLE ...` runs it unzipped too.
ZIP_MAIN = b"import sys\n\nimport verify\n\nsys.exit(verify.main())\n"
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
    """The verifier's command file, byte for byte as in the repository (it needs the
    package beside it: /verifier.zip holds both)."""
    return Response(
        VERIFIER.read_bytes(),
        media_type="text/x-python; charset=utf-8",
        headers=attachment("verify.py"),
    )


def verifier_zip_bytes() -> bytes:
    """verify.py and its package, as in the repository, in a reproducible zip
    (sorted names, fixed times): unzipped, `python verify.py ...` runs."""
    files = [("verify.py", VERIFIER.read_bytes())] + [
        (f"{VERIFIER_PACKAGE}/{path.name}", path.read_bytes())
        for path in sorted((VERIFIER.parent / VERIFIER_PACKAGE).glob("*.py"))
    ]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in [*files, ("__main__.py", ZIP_MAIN)]:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


@router.get("/verifier.zip", dependencies=[allow(PUBLIC)], response_class=Response)
def verifier_zip() -> Response:
    """The standalone verifier with its modules, for auditors to download and run."""
    return Response(
        verifier_zip_bytes(), media_type="application/zip", headers=attachment("verifier.zip")
    )


@router.get("/verify", dependencies=[allow(PUBLIC)])
def verify_guide(request: Request) -> Response:
    return templates.TemplateResponse(request, "verify.html", {"guide": _guide_html(GUIDE)})
