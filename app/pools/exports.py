"""Export routes of the directories: the same columns as the import templates, so that an
exported file can be changed and imported again. Files are written as the rows are read,
through a temporary file, so that an export of a million rows takes no more memory than
one of a thousand."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import select

from app import reference as ref
from app.access.policy import STAFF_READ, allow
from app.db import SessionDep
from app.downloads import BINARY, XLSX, attachment, spooled_file
from app.errors import PROBLEM_RESPONSES
from app.pools import importing
from app.pools.enterprise_routes import EnterpriseFilters
from app.pools.importing import Column
from app.pools.inspector_routes import InspectorFilters
from app.pools.models import Enterprise, Inspection, Inspector
from app.pools.tabular import write_csv_to, write_xlsx_to
from app.pools.transfer import TITLES
from app.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)


def _label(terms: tuple[ref.Term, ...], code: str | None) -> str:
    if code is None:
        return ""
    return next((t.label for t in terms if t.code == code), code)


def _enterprise_cells(e: Enterprise) -> list[str]:
    return [
        e.uscc,
        e.name,
        ref.COUNTY_BY_CODE[e.county_code].name,
        _label(ref.SECTORS, e.sector),
        _label(ref.ALL_SUBTYPES, e.subtype),
        _label(ref.STATUSES, e.status),
        e.risk_grade or "",
        "是" if e.key_supervision else "否",
        "、".join(_label(ref.TAGS, t) for t in e.tags),
        e.pair_key or "",
        e.address,
    ]


def _inspector_cells(i: Inspector) -> list[str]:
    return [
        i.name,
        i.cert_no,
        i.cert_valid_from.isoformat(),
        i.cert_valid_to.isoformat(),
        i.organisation,
        ref.COUNTY_BY_CODE[i.county_code].name if i.county_code else "",
        "、".join(_label(ref.SECTORS, s) for s in i.specialties),
        "是" if i.active else "否",
        i.phone or "",
    ]


# Rows are read from the database this many at a time, not all at once.
_READ_BATCH = 1000


def _export(
    columns: tuple[Column, ...], rows: Iterator[list[str]], fmt: str, title: str
) -> Response:
    """The file of `rows`, written as they are read (memory does not grow with the rows)."""
    headers = [c.header for c in columns]
    stamp = date.today().strftime("%Y%m%d")
    if fmt == "csv":
        return spooled_file(
            lambda out: write_csv_to(out, headers, rows),
            media_type="text/csv; charset=utf-8",
            headers=attachment(f"{title}-{stamp}.csv"),
        )
    text_columns = {i for i, c in enumerate(columns) if c.text}
    return spooled_file(
        lambda out: write_xlsx_to(out, headers, rows, sheet_name=title, text_columns=text_columns),
        media_type=XLSX,
        headers=attachment(f"{title}-{stamp}.xlsx"),
    )


ExportFormat = Annotated[Literal["csv", "xlsx"], Query(description="csv 或 xlsx")]


class EnterpriseExport(EnterpriseFilters):
    format: Literal["csv", "xlsx"] = Field(default="xlsx", description="csv 或 xlsx")


class InspectorExport(InspectorFilters):
    format: Literal["csv", "xlsx"] = Field(default="xlsx", description="csv 或 xlsx")


_EXPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": BINARY, XLSX: BINARY},
        "description": "导出文件，列与导入模板一致",
    }
}


@router.get(
    "/enterprises/export",
    dependencies=[allow(STAFF_READ)],
    tags=["enterprises"],
    summary="企业名录：导出（列与导入模板一致，可改后再导入）",
    response_class=Response,
    responses=_EXPORT_RESPONSES,
)
def export_enterprises(
    session: SessionDep, filters: Annotated[EnterpriseExport, Query()]
) -> Response:
    stmt = filters.query().order_by(Enterprise.id).execution_options(yield_per=_READ_BATCH)
    rows = (_enterprise_cells(e) for e in session.scalars(stmt))
    return _export(importing.ENTERPRISE_COLUMNS, rows, filters.format, TITLES["enterprises"])


@router.get(
    "/inspectors/export",
    dependencies=[allow(STAFF_READ)],
    tags=["inspectors"],
    summary="执法人员名录：导出（含联系电话，仅内部使用）",
    response_class=Response,
    responses=_EXPORT_RESPONSES,
)
def export_inspectors(
    session: SessionDep, filters: Annotated[InspectorExport, Query()]
) -> Response:
    stmt = filters.query().order_by(Inspector.id).execution_options(yield_per=_READ_BATCH)
    rows = (_inspector_cells(i) for i in session.scalars(stmt))
    return _export(importing.INSPECTOR_COLUMNS, rows, filters.format, TITLES["inspectors"])


@router.get(
    "/inspections/export",
    dependencies=[allow(STAFF_READ)],
    tags=["inspections"],
    summary="检查记录：导出",
    response_class=Response,
    responses=_EXPORT_RESPONSES,
)
def export_inspections(session: SessionDep, format: ExportFormat = "xlsx") -> Response:
    stmt = (
        select(Inspection, Enterprise.uscc)
        .join(Enterprise, Enterprise.id == Inspection.enterprise_id)
        .order_by(Inspection.id)
        .execution_options(yield_per=_READ_BATCH)
    )
    rows = (
        [uscc, i.inspected_on.isoformat(), _label(ref.INSPECTION_KINDS, i.kind), i.source, i.note]
        for i, uscc in session.execute(stmt)
    )
    return _export(importing.INSPECTION_COLUMNS, rows, format, TITLES["inspections"])
