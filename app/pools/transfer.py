"""File routes of the directories: import and import templates (exports: app.pools.exports)."""

from __future__ import annotations

import os
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.access.policy import OPERATE, STAFF_READ, allow
from app.db import SessionDep
from app.deps import ActorDep
from app.downloads import XLSX
from app.downloads import attachment as attachment  # also read from here by the proof route
from app.errors import PROBLEM_RESPONSES, ImportRejected, PayloadTooLarge
from app.idempotency import IDEMPOTENT
from app.pools import importing
from app.pools.import_template import TemplateColumn, template_xlsx
from app.pools.importing import Column
from app.routing import TransactionalRoute
from app.schemas import FIELD_VALUE_SCHEMA

router = APIRouter(route_class=TransactionalRoute, prefix="/api/v1", responses=PROBLEM_RESPONSES)

Target = Literal["enterprises", "inspectors", "inspections"]
TITLES = {
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


def _upload(request: Request, file: UploadFile) -> BinaryIO:
    """The uploaded file, as Starlette spooled it (to disk past a megabyte):
    the importer reads it a piece at a time, never whole."""
    limit: int = request.app.state.settings.max_upload_bytes
    size = file.file.seek(0, os.SEEK_END)
    file.file.seek(0)
    if size > limit:
        raise PayloadTooLarge(f"文件超过 {limit // (1024 * 1024)} MB 上限，请分批导入")
    if not size:
        raise ImportRejected("上传的文件是空的", code="empty_file")
    return file.file


def _import_route(target: Target) -> Any:
    what = importing.TARGETS[target]

    # A plain function: FastAPI runs it in a worker thread, so an import that
    # waits for the database never stalls the event loop and the other requests.
    def handler(
        request: Request,
        session: SessionDep,
        actor: ActorDep,
        file: UploadFile,
        dry_run: Annotated[bool, Query(description="试运行：只检查并报告将要发生的变化")] = False,
    ) -> ImportResult:
        report = importing.run_import(
            what,
            session,
            file=_upload(request, file),
            filename=file.filename or "upload",
            actor=actor,
            dry_run=dry_run,
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
    columns = importing.TARGETS[target].columns

    def handler() -> Response:
        data = template_xlsx([_template_column(c) for c in columns])
        return Response(data, media_type=XLSX, headers=attachment(f"{TITLES[target]}导入模板.xlsx"))

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
        summary=f"{TITLES[_target]}：批量导入（CSV/XLSX/XLS，全部成功或全部不写入）",
        response_model=ImportResult,
    )
    router.add_api_route(
        f"/{_target}/import/template.xlsx",
        _template_route(_target),
        methods=["GET"],
        dependencies=[allow(STAFF_READ)],
        tags=[_target],
        name=f"{_target}_import_template",
        summary=f"{TITLES[_target]}：下载导入模板",
        response_class=Response,
        responses={
            200: {
                "content": {XLSX: {"schema": {"type": "string", "format": "binary"}}},
                "description": "XLSX 模板",
            }
        },
    )
