"""Public disclosure pages: Chinese, server-rendered, no login, no external assets."""

from __future__ import annotations

import json
from itertools import groupby
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from app.access.policy import PUBLIC, allow
from app.db import SessionDep
from app.draws import service
from app.draws.models import Draw
from app.ledger import store
from app.ledger.models import LogEntry
from app.pools.tabular import write_csv, write_xlsx
from app.pools.transfer import XLSX, attachment
from app.public import views
from app.public.deadlines import beijing_today
from app.routing import TransactionalRoute

router = APIRouter(
    route_class=TransactionalRoute, include_in_schema=False, default_response_class=HTMLResponse
)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

KIND_LABELS = {
    "commitment": "承诺（冻结框架）",
    "seed": "种子",
    "result": "结果",
    "failure": "失败",
    "annulment": "撤销",
    "inspection": "检查结果",
}


def _checkpoint(request: Request, session: SessionDep) -> str:
    latest = store.latest_checkpoint(session)
    if latest is None or latest.size != store.size(session):
        latest = store.sign_checkpoint(session, request.app.state.signer)
    return latest.note


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


NOTICE_HEADERS = [
    "抽查编号",
    "抽查",
    "分层",
    "企业名称",
    "统一社会信用代码",
    "县市区",
    "类别",
    "检查人员（执法证号）",
    "检查结果",
    "结果公开期限",
]


def _notice_rows(detail: dict[str, Any]) -> list[list[str]]:
    return [
        [
            detail["public_id"],
            detail["title"],
            stratum["label"],
            row["name"],
            row["uscc"],
            row["county"],
            row["subtype"],
            "、".join(f"{m['name']}（{m['cert_no']}）" for m in row["team"]),
            row["outcome"]["text"],
            row["outcome"]["deadline"],
        ]
        for stratum in detail["strata"]
        for row in stratum["rows"]
    ]


@router.get("/draws/{public_id}.csv", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_csv(request: Request, session: SessionDep, public_id: str) -> Response:
    detail = views.draw_detail(session, service.get_draw(session, public_id), today=beijing_today())
    return Response(
        write_csv(NOTICE_HEADERS, _notice_rows(detail)),
        media_type="text/csv; charset=utf-8",
        headers=attachment(f"{public_id}.csv"),
    )


@router.get("/draws/{public_id}.xlsx", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_xlsx(request: Request, session: SessionDep, public_id: str) -> Response:
    detail = views.draw_detail(session, service.get_draw(session, public_id), today=beijing_today())
    data = write_xlsx(NOTICE_HEADERS, _notice_rows(detail), sheet_name=public_id, text_columns={4})
    return Response(data, media_type=XLSX, headers=attachment(f"{public_id}.xlsx"))


@router.get("/draws/{public_id}.pdf", dependencies=[allow(PUBLIC)], response_class=Response)
def draw_pdf(request: Request, session: SessionDep, public_id: str) -> Response:
    from weasyprint import HTML  # imported here: it loads fonts and Pango on first use

    detail = views.draw_detail(session, service.get_draw(session, public_id), today=beijing_today())
    html = templates.get_template("notice.html").render(
        d=detail, checkpoint=_checkpoint(request, session)
    )
    pdf = HTML(string=html).write_pdf()
    return Response(pdf, media_type="application/pdf", headers=attachment(f"{public_id}-公示.pdf"))


@router.get("/draws/{public_id}", dependencies=[allow(PUBLIC)])
def draw_page(request: Request, session: SessionDep, public_id: str) -> Response:
    draw = service.get_draw(session, public_id)
    detail = views.draw_detail(session, draw, today=beijing_today())
    replaced = session.get(Draw, draw.replaces_id) if draw.replaces_id else None
    detail["replaces"] = replaced.public_id if replaced else None
    return templates.TemplateResponse(
        request,
        "draw.html",
        {
            "d": detail,
            "key": request.app.state.signer.verifier_key,
            "checkpoint": _checkpoint(request, session),
        },
    )


@router.get("/log", dependencies=[allow(PUBLIC)])
def log_page(request: Request, session: SessionDep) -> Response:
    rows = session.scalars(select(LogEntry).order_by(LogEntry.idx.desc()).limit(50))
    entries = [
        {
            "index": row.idx,
            "kind": KIND_LABELS.get(row.kind, row.kind),
            "draw": row.draw,
            "at": json.loads(row.body).get("at", ""),
        }
        for row in rows
    ]
    return templates.TemplateResponse(
        request,
        "log.html",
        {
            "size": store.size(session),
            "checkpoint": _checkpoint(request, session),
            "key": request.app.state.signer.verifier_key,
            "entries": entries,
        },
    )
