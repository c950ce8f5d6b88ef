"""Public disclosure pages: Chinese, server-rendered, no login, no external assets."""

from __future__ import annotations

from itertools import groupby
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.access.policy import PUBLIC, allow
from app.db import SessionDep
from app.downloads import XLSX, attachment
from app.draws import service
from app.draws.bundle import draw_bundle, replacement_of
from app.draws.models import Draw
from app.public import notice, views
from app.public.deadlines import beijing_today
from app.public.docs import templates
from app.public.enterprise import enterprise_detail
from app.routing import TransactionalRoute
from app.types import utcnow

router = APIRouter(
    route_class=TransactionalRoute, include_in_schema=False, default_response_class=HTMLResponse
)


@router.get("/", dependencies=[allow(PUBLIC)])
@router.get("/draws", dependencies=[allow(PUBLIC)])
def draws_page(request: Request, session: SessionDep) -> Response:
    draws = views.draw_list(session)
    groups: list[tuple[int, list[tuple[str, list[dict[str, Any]]]]]] = []
    for year, in_year in groupby(draws, key=lambda d: d["year"]):
        by_quarter = sorted(in_year, key=lambda d: d["quarter"] or 0, reverse=True)
        quarters = [
            (f"第{q}季度" if q else "未分季度", list(items))
            for q, items in groupby(by_quarter, key=lambda d: d["quarter"])
        ]
        groups.append((year, quarters))
    groups.sort(key=lambda g: g[0], reverse=True)
    return templates.TemplateResponse(request, "draws.html", {"groups": groups})


def _log_state(request: Request, session: SessionDep) -> notice.LogState:
    return views.log_state(session, request.app.state.signer)


def _detail(session: SessionDep, public_id: str) -> dict[str, Any]:
    """The public view of a draw, with the draws it replaces and that replace it."""
    draw = service.get_draw(session, public_id)
    detail = views.draw_detail(session, draw, today=beijing_today())
    replaced = session.get(Draw, draw.replaces_id) if draw.replaces_id else None
    detail["replaces"] = replaced.public_id if replaced else None
    detail["replaced_by"] = replacement_of(session, draw)
    return detail


def _page_url(request: Request, path: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return base.rstrip("/") + path


@router.get("/draws/{public_id}.csv", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_csv(request: Request, session: SessionDep, public_id: str) -> Response:
    detail = _detail(session, public_id)
    return Response(
        notice.csv_bytes(detail),
        media_type="text/csv; charset=utf-8",
        headers=attachment(*notice.filenames(detail, "csv")),
    )


@router.get("/draws/{public_id}.xlsx", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_xlsx(request: Request, session: SessionDep, public_id: str) -> Response:
    detail = _detail(session, public_id)
    return Response(
        notice.xlsx_bytes(detail),
        media_type=XLSX,
        headers=attachment(*notice.filenames(detail, "xlsx")),
    )


@router.get("/draws/{public_id}.pdf", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_pdf(request: Request, session: SessionDep, public_id: str) -> Response:
    detail = _detail(session, public_id)
    pdf = notice.pdf_bytes(
        detail,
        log=_log_state(request, session),
        authority=request.app.state.settings.issuing_authority,
        page_url=_page_url(request, f"/draws/{public_id}"),
        made_at=utcnow(),
    )
    return Response(
        pdf, media_type="application/pdf", headers=attachment(*notice.filenames(detail, "pdf"))
    )


@router.get("/draws/{public_id}/bundle.json", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_bundle_file(request: Request, session: SessionDep, public_id: str) -> Response:
    """The verification bundle as a file named after the draw."""
    draw = service.get_draw(session, public_id)
    bundle = draw_bundle(session, draw, request.app.state.signer)
    return JSONResponse(bundle, headers=attachment(f"{public_id} 验证包.json", f"{public_id}.json"))


@router.get("/draws/{public_id}/ceremony", dependencies=[allow(PUBLIC)])
def ceremony_page(request: Request, session: SessionDep, public_id: str) -> Response:
    """The projector's screen in the ceremony room; it reloads itself as the log grows."""
    draw = service.get_draw(session, public_id)
    return templates.TemplateResponse(
        request,
        "ceremony.html",
        {"d": _detail(session, public_id), "c": views.ceremony_view(draw)},
    )


@router.get("/draws/{public_id}", dependencies=[allow(PUBLIC)])
def draw_page(request: Request, session: SessionDep, public_id: str) -> Response:
    return templates.TemplateResponse(
        request,
        "draw.html",
        {
            "d": _detail(session, public_id),
            "log": _log_state(request, session),
        },
    )


@router.get("/enterprises/{uscc}", dependencies=[allow(PUBLIC)])
def enterprise_page(request: Request, session: SessionDep, uscc: str) -> Response:
    detail = enterprise_detail(session, uscc, today=beijing_today())
    return templates.TemplateResponse(request, "enterprise.html", {"e": detail})


@router.get("/log", dependencies=[allow(PUBLIC)])
def log_page(request: Request, session: SessionDep) -> Response:
    return templates.TemplateResponse(
        request,
        "log.html",
        {
            "size": views.log_size(session),
            "log": _log_state(request, session),
            "entries": views.recent_entries(session),
        },
    )
