"""Bulk import of the directories from the files bureaus exchange.

All or nothing: every row is validated first (with the same models as the API)
and any problem rejects the whole file, listing each problem with its row,
column, value and a Chinese message. Only a clean file is written, in one
transaction. Rows are upserted by their key (USCC, certificate number); in an
existing record a blank cell keeps the stored value, so a partial file never
erases data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table as SqlTable
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app import reference as ref
from app.errors import ImportRejected, ProblemItem, chinese_message
from app.history import ChangeRecord
from app.pools import schemas, service
from app.pools.models import Enterprise, EnterpriseTag, ImportBatch, Inspector
from app.pools.tabular import Table, TableError, column_letter, looks_like_excel_number, read_table
from app.types import utcnow

M = TypeVar("M", bound=BaseModel)

MAX_LISTED_PROBLEMS = 10_000
MAX_LISTED_CHANGES = 1_000
# Columns that bureaus' sheets often carry and that mean nothing to the directory.
IGNORED_HEADERS = frozenset({"序号", "编号", "备注说明"})


@dataclass(frozen=True, slots=True)
class Column:
    """One column of an import file and its template."""

    header: str
    field: str
    required: bool = False
    text: bool = False  # a code: must stay text in Excel
    kind: str = "str"  # "str" | "bool" | "date"
    example: str = ""
    help: str = ""
    choices: tuple[str, ...] | None = None
    aliases: tuple[str, ...] = ()


_YES_NO = ("是", "否")

ENTERPRISE_COLUMNS: tuple[Column, ...] = (
    Column(
        "统一社会信用代码",
        "uscc",
        True,
        True,
        example="91430422MA4L12345X",
        help="18位，含校验位；请保持文本格式",
        aliases=("信用代码", "社会信用代码"),
    ),
    Column("企业名称", "name", True, example="衡南县示例加油站有限公司", aliases=("单位名称",)),
    Column(
        "县市区",
        "county",
        True,
        example="衡南县",
        help="县市区或园区名称，亦可填代码",
        choices=tuple(c.name for c in ref.COUNTIES),
        aliases=("所属县市区", "区县"),
    ),
    Column(
        "行业领域",
        "sector",
        example="危险化学品",
        help="可不填，由企业类别推出",
        choices=tuple(t.label for t in ref.SECTORS),
    ),
    Column(
        "企业类别",
        "subtype",
        True,
        example="加油站",
        choices=tuple(t.label for t in ref.ALL_SUBTYPES),
        aliases=("类别", "企业类型"),
    ),
    Column(
        "经营状态",
        "status",
        example="正常生产经营",
        help="不填为正常生产经营",
        choices=tuple(t.label for t in ref.STATUSES),
    ),
    Column(
        "风险等级",
        "risk_grade",
        example="B",
        help="A（低）至 D（重大）",
        choices=tuple(t.code for t in ref.RISK_GRADES),
    ),
    Column("重点监管", "key_supervision", kind="bool", example="否", choices=_YES_NO),
    Column(
        "标签",
        "tags",
        example="重大危险源、危险化工工艺",
        help="多个用顿号分隔：" + "、".join(t.label for t in ref.TAGS),
    ),
    Column(
        "配对键",
        "pair_key",
        text=True,
        example="",
        help="高速公路服务区两侧加油站填写相同的配对键，如 pair-G4-hengshan",
    ),
    Column("地址", "address", example="衡南县云集街道示例路1号"),
)

INSPECTOR_COLUMNS: tuple[Column, ...] = (
    Column("姓名", "name", True, example="张三"),
    Column("执法证号", "cert_no", True, True, example="HN-0431-0021", help="唯一；请保持文本格式"),
    Column("执法证有效期起", "cert_valid_from", True, kind="date", example="2024-01-01"),
    Column("执法证有效期止", "cert_valid_to", True, kind="date", example="2028-12-31"),
    Column("所属单位", "unit", True, example="执法支队", choices=tuple(u.name for u in ref.UNITS)),
    Column("县市区", "county", example="石鼓区", choices=tuple(c.name for c in ref.COUNTIES)),
    Column(
        "专业领域",
        "specialties",
        example="危险化学品、烟花爆竹",
        help="多个用顿号分隔：" + "、".join(t.label for t in ref.SECTORS),
    ),
    Column("在岗", "active", kind="bool", example="是", choices=_YES_NO),
    Column("联系电话", "phone", text=True, example="13800000000", help="不公开"),
)

INSPECTION_COLUMNS: tuple[Column, ...] = (
    Column(
        "统一社会信用代码",
        "uscc",
        True,
        True,
        example="91430422MA4L12345X",
        aliases=("信用代码", "社会信用代码"),
    ),
    Column("检查日期", "inspected_on", True, kind="date", example="2025-06-18"),
    Column(
        "检查类型",
        "kind",
        True,
        example="县级检查",
        choices=tuple(t.label for t in ref.INSPECTION_KINDS),
    ),
    Column("检查单位", "source", True, example="衡南县应急管理局", aliases=("来源",)),
    Column("备注", "note", example=""),
)


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do)."""

    target: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    import_id: int | None = None
    warnings: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def note_change(self, change: dict[str, Any]) -> None:
        """Keep the first changes for the answer; the counts cover all."""
        if len(self.changes) < MAX_LISTED_CHANGES:
            self.changes.append(change)


class _Problems:
    """Collects every problem of a file, with where it is."""

    def __init__(self) -> None:
        self.items: list[ProblemItem] = []
        self.count = 0

    def add(
        self,
        *,
        row: int | None,
        column: str | None,
        message: str,
        code: str,
        value: str | None = None,
    ) -> None:
        self.count += 1
        if len(self.items) < MAX_LISTED_PROBLEMS:
            self.items.append(
                ProblemItem(row=row, column=column, message=message, code=code, value=value)
            )

    def raise_if_any(self, filename: str) -> None:
        if not self.count:
            return
        first = self.items[0]
        where = f"第 {first.row} 行" + (f" {first.column} 列" if first.column else "")
        raise ImportRejected(
            f"文件“{filename}”有 {self.count} 处问题，未写入任何数据。第一处：{where}，{first.message}",
            errors=self.items,
        )


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")
_TRUE = {"是", "y", "yes", "true", "1", "√", "t"}
_FALSE = {"否", "n", "no", "false", "0", "×", "f"}


def _parse_bool(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return text  # left for the model to reject with its message


def _parse_date(text: str) -> date | str:
    cleaned = text.strip().split(" ")[0].split("T")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return text


@dataclass(frozen=True, slots=True)
class _Layout:
    """Which column of the file holds which field."""

    positions: dict[str, int]  # field -> index in the row
    columns: dict[str, Column]  # field -> column spec
    headers: tuple[str, ...]

    def where(self, field_name: str) -> str | None:
        """'C（统一社会信用代码）' for a field, as the clerk sees the column."""
        index = self.positions.get(field_name)
        if index is None:
            return None
        return f"{column_letter(index)}（{self.headers[index]}）"


def _layout(
    table: Table, columns: Sequence[Column], report: ImportReport, problems: _Problems
) -> _Layout:
    by_name: dict[str, Column] = {}
    for spec in columns:
        for name in (spec.header, *spec.aliases):
            by_name[name] = spec
    positions: dict[str, int] = {}
    for index, header in enumerate(table.headers):
        column = by_name.get(header)
        if column is None:
            if header and header not in IGNORED_HEADERS:
                report.warnings.append(f"已忽略不认识的列 {column_letter(index)}“{header}”")
            continue
        if column.field in positions:
            first = positions[column.field]
            problems.add(
                row=table.header_row,
                column=f"{column_letter(index)}（{header}）",
                message=f"与 {column_letter(first)} 列重复，都表示“{column.header}”",
                code="duplicate_column",
                value=header,
            )
            continue
        positions[column.field] = index
    for spec in columns:
        if spec.required and spec.field not in positions:
            problems.add(
                row=table.header_row,
                column=None,
                message=f"缺少必填列“{spec.header}”；请使用导入模板的表头",
                code="missing_column",
            )
    return _Layout(positions, {c.field: c for c in columns}, table.headers)


def _raw_values(
    row_number: int,
    cells: Sequence[Any],
    layout: _Layout,
    problems: _Problems,
) -> dict[str, Any] | None:
    """The non-blank cells of a row by field, converted; None if a code was mangled."""
    values: dict[str, Any] = {}
    ok = True
    for field_name, index in layout.positions.items():
        if index >= len(cells):
            continue
        cell = cells[index]
        text = cell.text
        if text == "":
            continue
        column = layout.columns[field_name]
        if column.text and (cell.numeric or looks_like_excel_number(text)):
            problems.add(
                row=row_number,
                column=layout.where(field_name),
                message=(
                    f"“{column.header}”被 Excel 存成了数字（{text}），代码可能已丢失位数；"
                    "请把该列设为文本格式后重新填写"
                ),
                code="excel_number",
                value=text,
            )
            ok = False
            continue
        if column.kind == "bool":
            values[field_name] = _parse_bool(text)
        elif column.kind == "date":
            values[field_name] = _parse_date(text)
        else:
            values[field_name] = text
    return values if ok else None


def _validate(
    model: type[M],
    row_number: int,
    values: dict[str, Any],
    layout: _Layout,
    problems: _Problems,
) -> M | None:
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err.get("loc") or ()
            field_name = str(loc[0]) if loc else None
            column = layout.where(field_name) if field_name else None
            if column is None and field_name in layout.columns:
                column = layout.columns[field_name].header
            raw = values.get(field_name) if field_name else None
            problems.add(
                row=row_number,
                column=column,
                message=chinese_message(err),
                code=str(err.get("type", "invalid")),
                value=None if raw is None else str(raw),
            )
        return None


def _duplicate_check(
    key: str,
    row_number: int,
    seen: dict[str, int],
    field_name: str,
    what: str,
    layout: _Layout,
    problems: _Problems,
) -> None:
    first = seen.get(key)
    if first is not None:
        problems.add(
            row=row_number,
            column=layout.where(field_name),
            message=f"{what} {key} 在文件中重复，第 {first} 行已出现",
            code="duplicate_in_file",
            value=key,
        )
    else:
        seen[key] = row_number


def _open(data: bytes, filename: str) -> Table:
    try:
        return read_table(data, filename)
    except TableError as exc:
        raise ImportRejected(
            f"无法读取文件“{filename}”：{exc.message}",
            errors=[ProblemItem(message=exc.message, code=exc.code)],
            code="import_unreadable",
        ) from exc


def _batch(session: Session, *, target: str, filename: str, data: bytes, actor: str) -> ImportBatch:
    batch = ImportBatch(
        target=target,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        actor=actor,
        rows=0,
        created=0,
        updated=0,
        unchanged=0,
    )
    session.add(batch)
    session.flush()
    return batch


def _finish(batch: ImportBatch, report: ImportReport) -> None:
    batch.rows = report.rows
    batch.created = report.created
    batch.updated = report.updated
    batch.unchanged = report.unchanged
    report.import_id = batch.id


# -- enterprises ---------------------------------------------------------------


def import_enterprises(
    session: Session,
    *,
    data: bytes,
    filename: str,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate a file of enterprises and upsert them all, or reject it whole."""
    report = ImportReport(target="enterprises", dry_run=dry_run)
    problems = _Problems()
    table = _open(data, filename)
    layout = _layout(table, ENTERPRISE_COLUMNS, report, problems)
    problems.raise_if_any(filename)

    existing = _existing_enterprises(session)
    seen: dict[str, int] = {}
    creates: list[tuple[int, schemas.EnterpriseCreate]] = []
    updates: list[tuple[int, Enterprise, dict[str, Any]]] = []
    for row in table.rows:
        report.rows += 1
        values = _raw_values(row.number, row.cells, layout, problems)
        if values is None:
            continue
        model = _validate(schemas.EnterpriseCreate, row.number, values, layout, problems)
        if model is None:
            continue
        _duplicate_check(model.uscc, row.number, seen, "uscc", "统一社会信用代码", layout, problems)
        current = existing.get(model.uscc)
        if current is None:
            creates.append((row.number, model))
            continue
        if current.retired_at is not None:
            problems.add(
                row=row.number,
                column=layout.where("uscc"),
                message=f"企业 {model.uscc} 已注销（{current.retired_reason}），请先在名录中恢复再导入",
                code="enterprise_retired",
                value=model.uscc,
            )
            continue
        given = {f: getattr(model, f) for f in values if f != "uscc"}
        if "subtype" in given and "sector" not in given:
            given["sector"] = model.sector
        updates.append((row.number, current, given))
        if progress is not None and report.rows % 10_000 == 0:
            progress(report.rows, len(table.rows))
    problems.raise_if_any(filename)
    if progress is not None:
        progress(report.rows, len(table.rows))

    batch = (
        None
        if dry_run
        else _batch(session, target="enterprises", filename=filename, data=data, actor=actor)
    )
    _apply_enterprise_updates(session, updates, report, actor, batch)
    _insert_enterprises(session, creates, report, actor, batch)
    if batch is not None:
        _finish(batch, report)
        session.flush()
    return report


def _existing_enterprises(session: Session) -> dict[str, Enterprise]:
    return {e.uscc: e for e in session.scalars(select(Enterprise))}


def _apply_enterprise_updates(
    session: Session,
    updates: Iterable[tuple[int, Enterprise, dict[str, Any]]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    for row_number, enterprise, given in updates:
        before = service.enterprise_snapshot(enterprise)
        proposed = dict(before)
        for field_name, value in given.items():
            proposed["county_code" if field_name == "county" else field_name] = value
        changed = sorted(k for k in proposed if proposed[k] != before[k])
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        report.note_change(
            {"row": row_number, "key": enterprise.uscc, "action": "update", "fields": changed}
        )
        if batch is None:
            continue
        service.update_enterprise(
            session,
            enterprise=enterprise,
            data=schemas.EnterpriseUpdate.model_validate(
                {("county" if k == "county_code" else k): proposed[k] for k in changed}
                | {"subtype": proposed["subtype"], "sector": proposed["sector"]}
            ),
            actor=actor,
            import_id=batch.id,
        )


_ENTERPRISES = cast(SqlTable, Enterprise.__table__)
_ENTERPRISE_TAGS = cast(SqlTable, EnterpriseTag.__table__)
_CHANGE_RECORDS = cast(SqlTable, ChangeRecord.__table__)


def _insert_enterprises(
    session: Session,
    creates: list[tuple[int, schemas.EnterpriseCreate]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
    chunk: int = 5_000,
) -> None:
    report.created += len(creates)
    for row_number, model in creates[:MAX_LISTED_CHANGES]:
        report.note_change({"row": row_number, "key": model.uscc, "action": "create", "fields": []})
    if batch is None or not creates:
        return
    now = utcnow()
    # Core inserts in chunks: an import of a whole city's directory must not
    # build one ORM object per row; the history rows are written alongside.
    for start in range(0, len(creates), chunk):
        part = [model for _, model in creates[start : start + chunk]]
        rows = [
            {
                "uscc": m.uscc,
                "name": m.name,
                "county_code": m.county,
                "sector": m.sector,
                "subtype": m.subtype,
                "status": m.status,
                "risk_grade": m.risk_grade,
                "key_supervision": m.key_supervision,
                "pair_key": m.pair_key,
                "address": m.address,
                "created_at": now,
                "updated_at": now,
                "version": 1,
            }
            for m in part
        ]
        # Core statements on the tables: plain executemany, no ORM bookkeeping,
        # no RETURNING; the new ids are read back by code, a chunk at a time.
        session.execute(insert(_ENTERPRISES), rows)
        codes = [r["uscc"] for r in rows]
        ids: dict[str, int] = {
            code: id_
            for code, id_ in session.execute(
                select(Enterprise.uscc, Enterprise.id).where(Enterprise.uscc.in_(codes))
            )
        }
        tags = [{"enterprise_id": ids[m.uscc], "tag": t} for m in part for t in m.tags]
        if tags:
            session.execute(insert(_ENTERPRISE_TAGS), tags)
        session.execute(
            insert(_CHANGE_RECORDS),
            [
                {
                    "entity": "enterprise",
                    "entity_id": ids[m.uscc],
                    "action": "create",
                    "actor": actor,
                    "at": now,
                    "import_id": batch.id,
                    "before": None,
                    "after": _created_snapshot(row, m.tags),
                }
                for row, m in zip(rows, part, strict=True)
            ],
        )


def _created_snapshot(row: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    return {"uscc": row["uscc"]} | {
        f: (tags if f == "tags" else row[f]) for f in service.ENTERPRISE_FIELDS
    }


# -- inspectors ----------------------------------------------------------------


def import_inspectors(
    session: Session, *, data: bytes, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspectors and upsert them all, or reject it whole."""
    report = ImportReport(target="inspectors", dry_run=dry_run)
    problems = _Problems()
    table = _open(data, filename)
    layout = _layout(table, INSPECTOR_COLUMNS, report, problems)
    problems.raise_if_any(filename)
    existing = {i.cert_no: i for i in session.scalars(select(Inspector))}
    seen: dict[str, int] = {}
    planned: list[tuple[int, schemas.InspectorCreate, dict[str, Any]]] = []
    for row in table.rows:
        report.rows += 1
        values = _raw_values(row.number, row.cells, layout, problems)
        if values is None:
            continue
        model = _validate(schemas.InspectorCreate, row.number, values, layout, problems)
        if model is None:
            continue
        _duplicate_check(model.cert_no, row.number, seen, "cert_no", "执法证号", layout, problems)
        planned.append((row.number, model, values))
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else _batch(session, target="inspectors", filename=filename, data=data, actor=actor)
    )
    for row_number, model, values in planned:
        current = existing.get(model.cert_no)
        if current is None:
            report.created += 1
            report.note_change(
                {"row": row_number, "key": model.cert_no, "action": "create", "fields": []}
            )
            if batch is not None:
                service.create_inspector(session, data=model, actor=actor, import_id=batch.id)
            continue
        given = {f: getattr(model, f) for f in values if f != "cert_no"}
        before = service.inspector_snapshot(current)
        update = schemas.InspectorUpdate.model_validate({f: v for f, v in given.items()})
        proposed = dict(before)
        for f, v in update.model_dump(exclude_unset=True, exclude={"version"}).items():
            proposed["county_code" if f == "county" else f] = (
                v.isoformat() if isinstance(v, date) else v
            )
        changed = sorted(k for k in proposed if proposed[k] != before[k])
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        report.note_change(
            {"row": row_number, "key": model.cert_no, "action": "update", "fields": changed}
        )
        if batch is not None:
            service.update_inspector(
                session, inspector=current, data=update, actor=actor, import_id=batch.id
            )
    if batch is not None:
        _finish(batch, report)
        session.flush()
    return report


# -- inspection history ------------------------------------------------------


def import_inspections(
    session: Session, *, data: bytes, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspection records and add them all, or reject it whole."""
    report = ImportReport(target="inspections", dry_run=dry_run)
    problems = _Problems()
    table = _open(data, filename)
    layout = _layout(table, INSPECTION_COLUMNS, report, problems)
    problems.raise_if_any(filename)
    enterprises = {
        uscc: id_ for id_, uscc in session.execute(select(Enterprise.id, Enterprise.uscc))
    }
    seen: dict[str, int] = {}
    planned: list[tuple[int, schemas.InspectionCreate]] = []
    for row in table.rows:
        report.rows += 1
        values = _raw_values(row.number, row.cells, layout, problems)
        if values is None:
            continue
        model = _validate(schemas.InspectionCreate, row.number, values, layout, problems)
        if model is None:
            continue
        if model.uscc not in enterprises:
            problems.add(
                row=row.number,
                column=layout.where("uscc"),
                message=f"名录库中没有统一社会信用代码为 {model.uscc} 的企业，请先导入企业",
                code="unknown_enterprise",
                value=model.uscc,
            )
            continue
        visit = f"{model.uscc}/{model.inspected_on}/{model.kind}/{model.source}"
        _duplicate_check(visit, row.number, seen, "uscc", "检查记录", layout, problems)
        planned.append((row.number, model))
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else _batch(session, target="inspections", filename=filename, data=data, actor=actor)
    )
    for row_number, model in planned:
        if service.find_inspection(session, enterprise_id=enterprises[model.uscc], data=model):
            report.unchanged += 1
            continue
        report.created += 1
        report.note_change({"row": row_number, "key": model.uscc, "action": "create", "fields": []})
        if batch is not None:
            service.create_inspection(session, data=model, actor=actor, import_id=batch.id)
    if batch is not None:
        _finish(batch, report)
        session.flush()
    return report


IMPORTERS = {
    "enterprises": (import_enterprises, ENTERPRISE_COLUMNS),
    "inspectors": (import_inspectors, INSPECTOR_COLUMNS),
    "inspections": (import_inspections, INSPECTION_COLUMNS),
}
