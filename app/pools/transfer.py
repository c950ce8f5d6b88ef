"""File routes of the directories: import, import templates, export."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from app import reference as ref
from app.access.policy import OPERATE, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.errors import PROBLEM_RESPONSES, ImportRejected, PayloadTooLarge
from app.idempotency import IDEMPOTENT
from app.pools import importing
from app.pools.importing import Column
from app.pools.models import Enterprise, Inspection, Inspector
from app.pools.router import EnterpriseFilters, InspectorFilters
from app.pools.tabular import TemplateColumn, template_xlsx, write_csv, write_xlsx
from app.routing import TransactionalRoute
from app.schemas import FIELD_VALUE_SCHEMA

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A file answer, as OpenAPI declares one (generated clients give its bytes).
_BINARY = {"schema": {"type": "string", "format": "binary"}}
Target = Literal["enterprises", "inspectors", "inspections"]
_TITLES = {
    "enterprises": "检查对象名录",
    "inspectors": "执法检查人员名录",
    "inspections": "检查记录",
}


class FieldChange(BaseModel):
    """One field an import sets: its stored value before and after (codes, as the API gives them)."""

    field: str = Field(description="字段名，如 risk_grade")
    column: str | None = Field(description="文件中的列，如“E（风险等级）”")
    old: Annotated[Any, FIELD_VALUE_SCHEMA] = Field(description="原值（新建时为空）")
    new: Annotated[Any, FIELD_VALUE_SCHEMA] = Field(description="新值")


class ImportChange(BaseModel):
    """What an import does to one row's record."""

    row: int = Field(description="文件中的行号")
    key: str = Field(description="统一社会信用代码或执法证号")
    action: Literal["create", "update"]
    fields: list[FieldChange]
    warnings: list[str] = Field(description="本行中规范化的写法（全角转半角、去掉“衡阳市”前缀等）")


class ImportResult(BaseModel):
    """What an import wrote, or in a dry run would write."""

    target: Target
    dry_run: bool = Field(description="试运行：只报告，不写入")
    import_id: int | None = Field(description="导入批次编号（试运行时为空）")
    header_row: int = Field(description="表头所在的行（其上方的标题、说明已跳过）")
    rows: int
    created: int
    updated: int
    unchanged: int
    warnings: list[str] = Field(description="提示：跳过的标题行、忽略的列、各列规范化的写法及行数")
    changes: list[ImportChange] = Field(
        description="按文件行序列出新建和修改的记录及每个字段的原值、新值（最多前 1000 行）"
    )


_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]+')


def attachment(filename: str, fallback: str | None = None) -> dict[str, str]:
    """RFC 6266/5987: an ASCII fallback (`fallback`, or the name's ASCII) and the UTF-8 name."""
    filename = _UNSAFE_IN_FILENAME.sub("_", filename)
    ascii_name = _UNSAFE_IN_FILENAME.sub("_", fallback or "").encode("ascii", "ignore").decode()
    ascii_name = ascii_name or filename.encode("ascii", "ignore").decode() or "export"
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    }


def _read_upload(request: Request, file: UploadFile) -> bytes:
    limit: int = request.app.state.settings.max_upload_bytes
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"文件超过 {limit // (1024 * 1024)} MB 上限，请分批导入")
    if not data:
        raise ImportRejected("上传的文件是空的", code="empty_file")
    return data


def _import_route(target: Target) -> Any:
    importer, _columns = importing.IMPORTERS[target]

    # A plain function: FastAPI runs it in a worker thread, so an import that
    # waits for the database never stalls the event loop and the other requests.
    def handler(
        request: Request,
        session: SessionDep,
        actor: ActorDep,
        file: UploadFile,
        dry_run: Annotated[bool, Query(description="试运行：只检查并报告将要发生的变化")] = False,
    ) -> ImportResult:
        data = _read_upload(request, file)
        report = importer(
            session, data=data, filename=file.filename or "upload", actor=actor, dry_run=dry_run
        )
        if dry_run:
            session.rollback()
        return ImportResult(
            target=target,
            dry_run=report.dry_run,
            import_id=report.import_id,
            rows=report.rows,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            header_row=report.header_row,
            warnings=report.warnings,
            changes=[ImportChange.model_validate(c) for c in report.changes],
        )

    return handler


def _template_route(target: Target) -> Any:
    _importer, columns = importing.IMPORTERS[target]

    def handler() -> Response:
        data = template_xlsx([_template_column(c) for c in columns])
        return Response(
            data, media_type=XLSX, headers=attachment(f"{_TITLES[target]}导入模板.xlsx")
        )

    return handler


def _template_column(column: Column) -> TemplateColumn:
    return TemplateColumn(
        name=column.header,
        required=column.required,
        text=column.text,
        example=column.example,
        choices=column.choices,
        help=column.help or ("必填" if column.required else "选填"),
    )


for _target in ("enterprises", "inspectors", "inspections"):
    router.add_api_route(
        f"/{_target}/import",
        _import_route(_target),
        methods=["POST"],
        dependencies=[allow(OPERATE), IDEMPOTENT],
        tags=[_target],
        name=f"{_target}_import",
        summary=f"{_TITLES[_target]}：批量导入（CSV/XLSX/XLS，全部成功或全部不写入）",
        response_model=ImportResult,
    )
    router.add_api_route(
        f"/{_target}/import/template.xlsx",
        _template_route(_target),
        methods=["GET"],
        dependencies=[allow(STAFF_READ)],
        tags=[_target],
        name=f"{_target}_import_template",
        summary=f"{_TITLES[_target]}：下载导入模板",
        response_class=Response,
        responses={
            200: {
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                "description": "XLSX 模板",
            }
        },
    )


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
        i.unit,
        ref.COUNTY_BY_CODE[i.county_code].name if i.county_code else "",
        "、".join(_label(ref.SECTORS, s) for s in i.specialties),
        "是" if i.active else "否",
        i.phone or "",
    ]


def _export(columns: tuple[Column, ...], rows: list[list[str]], fmt: str, title: str) -> Response:
    headers = [c.header for c in columns]
    stamp = date.today().strftime("%Y%m%d")
    if fmt == "csv":
        return Response(
            write_csv(headers, rows),
            media_type="text/csv; charset=utf-8",
            headers=attachment(f"{title}-{stamp}.csv"),
        )
    text_columns = {i for i, c in enumerate(columns) if c.text}
    return Response(
        write_xlsx(headers, rows, sheet_name=title, text_columns=text_columns),
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
        "content": {"text/csv": _BINARY, XLSX: _BINARY},
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
    stmt = filters.query().order_by(Enterprise.id)
    rows = [_enterprise_cells(e) for e in session.scalars(stmt)]
    return _export(importing.ENTERPRISE_COLUMNS, rows, filters.format, _TITLES["enterprises"])


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
    stmt = filters.query().order_by(Inspector.id)
    rows = [_inspector_cells(i) for i in session.scalars(stmt)]
    return _export(importing.INSPECTOR_COLUMNS, rows, filters.format, _TITLES["inspectors"])


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
    )
    rows = [
        [uscc, i.inspected_on.isoformat(), _label(ref.INSPECTION_KINDS, i.kind), i.source, i.note]
        for i, uscc in session.execute(stmt)
    ]
    return _export(importing.INSPECTION_COLUMNS, rows, format, _TITLES["inspections"])
