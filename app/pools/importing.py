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
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime
from operator import attrgetter
from typing import Any, TypeVar, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Table as SqlTable
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import reference as ref
from app.bulk import insert_rows, next_ids
from app.config import get_settings
from app.errors import ImportRejected, PayloadTooLarge, ProblemItem, chinese_message
from app.history import ChangeRecord, actor_key_id
from app.pools import schemas, service
from app.pools.archive import ArchiveRefused, archive_limits, check_archive
from app.pools.models import Enterprise, EnterpriseTag, ImportBatch, Inspector
from app.pools.tabular import (
    XLSX_MAGIC,
    Row,
    Table,
    TableError,
    column_letter,
    looks_like_excel_number,
    read_table,
)
from app.types import utcnow

M = TypeVar("M", bound=BaseModel)

# A broken file of a million rows has a million problems: the answer lists the
# first ones and counts all. Cells longer than any field are refused, and no
# value is echoed whole.
MAX_LISTED_PROBLEMS = 1_000
MAX_CELL_CHARS = 2_000
MAX_SHOWN_CHARS = 200
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
            if value is not None and len(value) > MAX_SHOWN_CHARS:
                value = value[:MAX_SHOWN_CHARS] + "…"
            self.items.append(
                ProblemItem(row=row, column=column, message=message, code=code, value=value)
            )

    def raise_if_any(self, filename: str) -> None:
        if not self.count:
            return
        first = self.items[0]
        where = f"第 {first.row} 行" + (f" {first.column} 列" if first.column else "")
        listed = f"（列出前 {len(self.items)} 处）" if self.count > len(self.items) else ""
        raise ImportRejected(
            f"文件“{filename}”有 {self.count} 处问题{listed}，未写入任何数据。"
            f"第一处：{where}，{first.message}",
            errors=self.items,
            errors_total=self.count,
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
    present: tuple[tuple[int, Column], ...]  # (index in the row, column), in file order

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
    by_field = {c.field: c for c in columns}
    present = tuple(sorted((i, by_field[f]) for f, i in positions.items()))
    return _Layout(positions, by_field, table.headers, present)


def _raw_values(row: Row, layout: _Layout, problems: _Problems) -> dict[str, Any] | None:
    """The non-blank cells of a row by field, converted; None if a code was mangled."""
    values: dict[str, Any] = {}
    ok = True
    texts = row.texts
    width = len(texts)
    for index, column in layout.present:
        if index >= width:
            break
        text = texts[index]
        if not text:
            continue
        if len(text) > MAX_CELL_CHARS:
            problems.add(
                row=row.number,
                column=layout.where(column.field),
                message=f"单元格有 {len(text)} 个字符，超过 {MAX_CELL_CHARS} 个的上限",
                code="cell_too_long",
                value=text,
            )
            ok = False
        elif "\x00" in text:
            problems.add(
                row=row.number,
                column=layout.where(column.field),
                message="单元格中有不可见的控制字符（NUL），请删除后重新导入",
                code="control_character",
                value=text.replace("\x00", "\\x00"),
            )
            ok = False
        elif column.text and (index in row.numeric or looks_like_excel_number(text)):
            problems.add(
                row=row.number,
                column=layout.where(column.field),
                message=(
                    f"“{column.header}”被 Excel 存成了数字（{text}），代码可能已丢失位数；"
                    "请把该列设为文本格式后重新填写"
                ),
                code="excel_number",
                value=text,
            )
            ok = False
        elif column.kind == "str":
            values[column.field] = text
        elif column.kind == "bool":
            values[column.field] = _parse_bool(text)
        else:
            values[column.field] = _parse_date(text)
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
) -> bool:
    """Whether `key` is new in the file; if not, the problem is added."""
    first = seen.get(key)
    if first is not None:
        problems.add(
            row=row_number,
            column=layout.where(field_name),
            message=f"{what} {key} 在文件中重复，第 {first} 行已出现",
            code="duplicate_in_file",
            value=key,
        )
        return False
    seen[key] = row_number
    return True


def _open(data: bytes, filename: str) -> Table:
    try:
        if data.startswith(XLSX_MAGIC):
            check_archive(data, archive_limits(get_settings()))
        return read_table(data, filename)
    except ArchiveRefused as exc:
        if exc.too_large:
            raise PayloadTooLarge(
                f"无法导入文件“{filename}”：{exc.message}", code=exc.code
            ) from exc
        raise _unreadable(filename, exc) from exc
    except TableError as exc:
        raise _unreadable(filename, exc) from exc


def _valid_rows(
    table: Table,
    filename: str,
    model: type[M],
    layout: _Layout,
    problems: _Problems,
    report: ImportReport,
) -> Iterator[tuple[int, M, dict[str, Any]]]:
    """Each row that passes `model`: its number, the validated row, and the
    fields its cells gave. The problems of the other rows are added; a file
    that breaks part-way is refused like an unreadable one."""
    try:
        for row in table.rows:
            report.rows += 1
            values = _raw_values(row, layout, problems)
            if values is None:
                continue
            valid = _validate(model, row.number, values, layout, problems)
            if valid is not None:
                yield row.number, valid, values
    except TableError as exc:
        raise _unreadable(filename, exc) from exc


def _unreadable(filename: str, exc: TableError) -> ImportRejected:
    return ImportRejected(
        f"无法读取文件“{filename}”：{exc.message}",
        errors=[ProblemItem(message=exc.message, code=exc.code)],
        code="import_unreadable",
    )


def start_batch(
    session: Session, *, target: str, filename: str, data: bytes, actor: str
) -> ImportBatch:
    batch = ImportBatch(
        target=target,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        actor=actor,
        actor_key_id=actor_key_id(actor),
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
    """Validate a file of enterprises and upsert them all, or reject it whole.

    The file is read and validated a chunk of rows at a time, and each valid
    chunk is written, in the caller's transaction, by a second thread while the
    next chunk is validated; memory stays flat however long the file. After the
    first problem nothing more is written; the rest of the file is still
    checked so that every problem is listed, and the rejection rolls the
    transaction back.
    """
    report = ImportReport(target="enterprises", dry_run=dry_run)
    problems = _Problems()
    table = _open(data, filename)
    layout = _layout(table, ENTERPRISE_COLUMNS, report, problems)
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else start_batch(session, target="enterprises", filename=filename, data=data, actor=actor)
    )
    directory = _Directory.read(session)
    seen: dict[str, int] = {}
    chunk = _EnterpriseChunk()
    with _ChunkWriter() as writer:

        def write(chunk: _EnterpriseChunk) -> None:
            # A file with a problem is refused whole: writing more of it is wasted work.
            write_to = None if problems.count else batch
            writer.submit(_write_enterprises, session, chunk, report, actor, write_to)

        rows = _valid_rows(table, filename, schemas.EnterpriseCreate, layout, problems, report)
        for row_number, model, values in rows:
            code = model.uscc
            if not _duplicate_check(
                code, row_number, seen, "uscc", "统一社会信用代码", layout, problems
            ):
                continue
            if code in directory.retired:
                problems.add(
                    row=row_number,
                    column=layout.where("uscc"),
                    message=(
                        f"企业 {code} 已注销（{directory.retired[code]}），请先在名录中恢复再导入"
                    ),
                    code="enterprise_retired",
                    value=code,
                )
            elif code in directory.active:
                chunk.updates.append((row_number, code, values, model))
            else:
                chunk.creates.append((row_number, model))
            if len(chunk) == CHUNK_ROWS:
                write(chunk)
                chunk = _EnterpriseChunk()
                if progress is not None:
                    progress(report.rows, max(table.size_hint, report.rows))
        write(chunk)
    problems.raise_if_any(filename)
    if progress is not None:
        progress(report.rows, report.rows)
    if batch is not None:
        _finish(batch, report)
        session.flush()
    return report


# Rows of enterprises validated, then written, at a time.
CHUNK_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class _Directory:
    """The codes already in the directory, read once: a million-row file is
    sorted into creates and updates without a query per row or per chunk."""

    active: set[str]
    retired: dict[str, str | None]  # code -> why it was retired

    @classmethod
    def read(cls, session: Session) -> _Directory:
        active: set[str] = set()
        retired: dict[str, str | None] = {}
        query = select(Enterprise.uscc, Enterprise.retired_at, Enterprise.retired_reason)
        for code, retired_at, reason in session.execute(query):
            if retired_at is None:
                active.add(code)
            else:
                retired[code] = reason
        return cls(active, retired)


@dataclass(slots=True)
class _EnterpriseChunk:
    """Valid rows waiting to be written."""

    creates: list[tuple[int, schemas.EnterpriseCreate]] = field(default_factory=list)
    # row number, code, the cells given, the validated row
    updates: list[tuple[int, str, dict[str, Any], schemas.EnterpriseCreate]] = field(
        default_factory=list
    )

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates)


class _ChunkWriter:
    """Runs each chunk's database work on one other thread while the next
    chunk is read and validated (the database and the driver release the GIL
    while they work, so the two overlap on a second core).

    At most one chunk is in flight, and the reading thread does not touch the
    session until the writer is done with it, so the session is only ever used
    by one thread at a time. An error in the writer is raised in the reading
    thread, at the next chunk or at the end.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(work, *args)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self.wait()
        except Exception:
            if kind is None:  # else the reading thread's own error is the one to raise
                raise
        finally:
            self._pool.shutdown()


def _write_enterprises(
    session: Session,
    chunk: _EnterpriseChunk,
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    """Count a chunk's changes and, unless `batch` is None (a dry run, or a
    file already refused), write them."""
    if chunk.updates:
        _apply_enterprise_updates(session, chunk.updates, report, actor, batch)
    _insert_enterprises(session, chunk.creates, report, actor, batch)


def _apply_enterprise_updates(
    session: Session,
    updates: list[tuple[int, str, dict[str, Any], schemas.EnterpriseCreate]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    codes = [code for _, code, _, _ in updates]
    stored = {
        e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))
    }
    for row_number, code, values, model in updates:
        enterprise = stored[code]
        given = {f: getattr(model, f) for f in values if f != "uscc"}
        if "subtype" in given and "sector" not in given:
            given["sector"] = model.sector
        before = service.enterprise_snapshot(enterprise)
        proposed = dict(before)
        for field_name, value in given.items():
            proposed["county_code" if field_name == "county" else field_name] = value
        changed = sorted(k for k in proposed if proposed[k] != before[k])
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        report.note_change({"row": row_number, "key": code, "action": "update", "fields": changed})
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

# The columns of a new enterprise that differ from row to row (the timestamps and
# version are the same for all), and the validated row's field for each.
_NEW_ENTERPRISE = ("uscc", *(f for f in service.ENTERPRISE_FIELDS if f != "tags"))
_NEW_VALUES = attrgetter(*("county" if c == "county_code" else c for c in _NEW_ENTERPRISE))


def _insert_enterprises(
    session: Session,
    creates: list[tuple[int, schemas.EnterpriseCreate]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    for row_number, model in creates[: max(0, MAX_LISTED_CHANGES - report.created)]:
        report.note_change({"row": row_number, "key": model.uscc, "action": "create", "fields": []})
    report.created += len(creates)
    if batch is None or not creates:
        return
    now = utcnow()
    models = [model for _, model in creates]
    ids = next_ids(session, _ENTERPRISES, len(models))
    rows = [(id_, *_NEW_VALUES(m)) for id_, m in zip(ids, models, strict=True)]
    insert_rows(
        session,
        _ENTERPRISES,
        ("id", *_NEW_ENTERPRISE),
        rows,
        same={"created_at": now, "updated_at": now, "version": 1},
    )
    insert_rows(
        session,
        _ENTERPRISE_TAGS,
        ("enterprise_id", "tag"),
        [(id_, tag) for id_, m in zip(ids, models, strict=True) for tag in m.tags],
    )
    insert_rows(
        session,
        _CHANGE_RECORDS,
        ("entity_id", "after"),
        [(row[0], _created_snapshot(row, m.tags)) for row, m in zip(rows, models, strict=True)],
        same={
            "entity": "enterprise",
            "action": "create",
            "actor": actor,
            "actor_key_id": actor_key_id(actor),
            "at": now,
            "import_id": batch.id,
            "before": None,
        },
    )


# service.enterprise_snapshot's keys, and where the tags go among a new row's values.
_SNAPSHOT_KEYS = ("uscc", *service.ENTERPRISE_FIELDS)
_TAGS_AT = _SNAPSHOT_KEYS.index("tags")


def _created_snapshot(row: tuple[Any, ...], tags: list[str]) -> dict[str, Any]:
    """What service.enterprise_snapshot gives for the enterprise the row creates."""
    values = row[1:]  # after the id: uscc, then the fields but the tags, in snapshot order
    return dict(zip(_SNAPSHOT_KEYS, (*values[:_TAGS_AT], tags, *values[_TAGS_AT:]), strict=True))


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
    rows = _valid_rows(table, filename, schemas.InspectorCreate, layout, problems, report)
    for row_number, model, values in rows:
        _duplicate_check(model.cert_no, row_number, seen, "cert_no", "执法证号", layout, problems)
        planned.append((row_number, model, values))
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else start_batch(session, target="inspectors", filename=filename, data=data, actor=actor)
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
    rows = _valid_rows(table, filename, schemas.InspectionCreate, layout, problems, report)
    for row_number, model, _values in rows:
        if model.uscc not in enterprises:
            problems.add(
                row=row_number,
                column=layout.where("uscc"),
                message=f"名录库中没有统一社会信用代码为 {model.uscc} 的企业，请先导入企业",
                code="unknown_enterprise",
                value=model.uscc,
            )
            continue
        visit = f"{model.uscc}/{model.inspected_on}/{model.kind}/{model.source}"
        _duplicate_check(visit, row_number, seen, "uscc", "检查记录", layout, problems)
        planned.append((row_number, model))
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else start_batch(session, target="inspections", filename=filename, data=data, actor=actor)
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
