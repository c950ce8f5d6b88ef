"""Error pages for people: a browser asking for a page gets HTML, the API problem+json."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from app.errors import Problem
from app.public.docs import templates

# Machines' addresses keep problem+json whatever they accept.
_MACHINE_PREFIXES = ("/api/", "/healthz", "/readyz", "/metrics", "/openapi.json", "/static/")


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page, not a client of the API."""
    return (
        request.method in ("GET", "HEAD")
        and not request.url.path.startswith(_MACHINE_PREFIXES)
        and "text/html" in request.headers.get("accept", "")
    )


def error_page(request: Request, problem: Problem, headers: dict[str, str] | None) -> HTMLResponse:
    """The problem as a page of the public site, with the same status."""
    response = templates.TemplateResponse(
        request, "error.html", {"problem": problem}, status_code=problem.status, headers=headers
    )
    assert isinstance(response, HTMLResponse)
    return response
