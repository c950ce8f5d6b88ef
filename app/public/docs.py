"""The API documentation, Swagger UI and ReDoc, served from the service's own files.

Their scripts and styles come from the pinned `fastapi-offline` package, so the
docs render on a network without internet, and no page loads an inline script.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from app.access.policy import PUBLIC, allow
from app.routing import TransactionalRoute

ASSETS = Path(fastapi_offline.__file__).parent / "static"
OWN_STATIC = Path(__file__).parent / "static"

router = APIRouter(
    route_class=TransactionalRoute, include_in_schema=False, default_response_class=HTMLResponse
)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def mount_static(app: FastAPI) -> None:
    """The docs' vendored assets at /static/docs, the site's own scripts at /static."""
    app.mount("/static/docs", StaticFiles(directory=ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=OWN_STATIC), name="static")


@router.get("/docs", dependencies=[allow(PUBLIC)])
def swagger_ui(request: Request) -> Response:
    return templates.TemplateResponse(
        request,
        "swagger.html",
        {"title": request.app.title, "openapi_url": request.app.openapi_url},
    )


@router.get("/redoc", dependencies=[allow(PUBLIC)])
def redoc(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "redoc.html", {"title": request.app.title, "openapi_url": request.app.openapi_url}
    )
