"""Reading an import file's rows into validated records, saying what was wrong
(row, column, value, a Chinese message) and what was tidied on the way.

The importer decides what to write; this module only reads: it finds which
column holds which field, turns each cell into the field's value (full-width
codes, 衡阳市 prefixes, spaces, 是/√/Y brought to one form, each noted), and
validates the row with the API's own model.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from app import reference as ref
from app.errors import ImportRejected, ProblemItem, chinese_message
from app.pools.cells import CLEAR_MARKERS, half_width, term_form
from app.pools.columns import IGNORED_HEADERS, Column
from app.pools.tabular import Row, Table, TableError, column_letter, looks_like_excel_number

M = TypeVar("M", bound=BaseModel)

# A broken file of a million rows has a million problems: the answer lists the
# first ones and counts all. Cells longer than any field are refused, and no
# value is echoed whole.
MAX_LISTED_PROBLEMS = 1_000
MAX_CELL_CHARS = 2_000
MAX_SHOWN_CHARS = 200
MAX_LISTED_CHANGES = 1_000
# Rows named in a warning about a normalisation; the count covers all.
MAX_NAMED_ROWS = 5


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
    header_row: int = 1
    where: dict[str, str] = field(default_factory=dict)  # field -> its column, "C（县市区）"
    warnings: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    # (column, what was done) -> the rows it was done in
    normalised: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    normalised_rows: dict[tuple[str, str], int] = field(default_factory=dict)

    def note_changes(self, changes: list[dict[str, Any]]) -> None:
        """Keep the first changes for the answer, in file order; the counts cover all.
        `changes` are a chunk's, whose rows all come after those already kept."""
        room = MAX_LISTED_CHANGES - len(self.changes)
        if room > 0:
            self.changes.extend(sorted(changes, key=_row_of)[:room])

    def room(self) -> int:
        """How many more changes the answer lists."""
        return MAX_LISTED_CHANGES - len(self.changes)

    def note_normalised(self, row: int, where: str, what: str) -> None:
        key = (where, what)
        rows = self.normalised.setdefault(key, [])
        if len(rows) < MAX_NAMED_ROWS:
            rows.append(row)
        self.normalised_rows[key] = self.normalised_rows.get(key, 0) + 1

    def finish_warnings(self) -> None:
        """The normalisations, one warning each, after the reading's own warnings."""
        for (where, what), rows in self.normalised.items():
            count = self.normalised_rows[(where, what)]
            named = "、".join(map(str, rows)) + ("等" if count > len(rows) else "")
            self.warnings.append(f"{where}：{what}，共 {count} 行（第 {named} 行）")


def _row_of(change: dict[str, Any]) -> int:
    return int(change["row"])


class Problems:
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
    ) -> ProblemItem | None:
        """Count the problem, and list it if there is room; the item listed."""
        self.count += 1
        if len(self.items) >= MAX_LISTED_PROBLEMS:
            return None
        if value is not None and len(value) > MAX_SHOWN_CHARS:
            value = value[:MAX_SHOWN_CHARS] + "…"
        item = ProblemItem(row=row, column=column, message=message, code=code, value=value)
        self.items.append(item)
        return item

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
_YES_NO = {"是": True, "否": False}


def _parse_bool(text: str) -> bool | str:
    lowered = half_width(text).strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    return text  # left for the model to reject with its message


def _parse_date(text: str) -> date | str:
    cleaned = half_width(text).strip().split(" ")[0].split("T")[0]
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return text


def _county_form(text: str) -> str:
    return ref.without_city_prefix(text)


# Each form's normaliser, and how its change is told to the clerk.
_FORMS = {
    "code": (half_width, "全角字符改为半角"),
    "term": (term_form, "括号或全角字母数字改为规范写法"),
    "county": (_county_form, "去掉了“衡阳市”等前缀"),
}


@dataclass(frozen=True, slots=True)
class Layout:
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


def layout(
    table: Table, columns: Sequence[Column], report: ImportReport, problems: Problems
) -> Layout:
    """Where each field is in `table`; unknown columns are warned of, a
    missing required or a repeated one is a problem."""
    report.header_row = table.header_row
    if table.header_row > 1:
        report.warnings.append(
            f"表头在第 {table.header_row} 行，已跳过其上方的标题或说明"
            + (f"（{table.skipped} 行）" if table.skipped else "")
        )
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
    found = Layout(positions, by_field, table.headers, present)
    report.where = {f: found.where(f) or "" for f in positions}
    return found


def tidy(column: Column, text: str) -> tuple[Any, str | None, str]:
    """A cell's text as its field's value before validation (a clerk's spelling
    brought to the stored form, 是/√/Y read as a boolean, a date parsed), and
    what was tidied and how, to tell the clerk (None: nothing)."""
    if column.kind == "str":
        if column.form:
            normalise, what = _FORMS[column.form]
            fixed = normalise(text)
            if fixed is not text and fixed != text:
                return fixed, what, f"（“{text}”→“{fixed}”）"
        return text, None, ""
    if column.kind == "bool":
        parsed = _parse_bool(text)
        if isinstance(parsed, bool) and _YES_NO.get(text) is not parsed:
            return parsed, f"“{text}”读作“{'是' if parsed else '否'}”", ""
        return parsed, None, ""
    return _parse_date(text), None, ""


CLEAR_START = frozenset(m[0] for m in CLEAR_MARKERS)
_NO_NOTES: tuple[str, ...] = ()


def read_cells(
    row: Row, layout: Layout, problems: Problems, report: ImportReport
) -> tuple[dict[str, Any], tuple[str, ...]] | None:
    """The non-blank cells of a row by field, converted, and what was tidied in
    them; None if a cell cannot be read (a code Excel mangled, a NUL)."""
    values: dict[str, Any] = {}
    notes: list[str] = []
    ok = True
    texts = row.texts
    width = len(texts)
    trimmed = row.trimmed

    def note(index: int, what: str, change: str = "") -> None:
        where = f"{column_letter(index)}（{layout.headers[index]}）"
        report.note_normalised(row.number, where, what)
        notes.append(f"{where}：{what}{change}")

    for index, column in layout.present:
        if index >= width:
            break
        text = texts[index]
        if not text:
            continue
        if trimmed and index in trimmed:
            note(index, "去掉了首尾空格")
        if len(text) > MAX_CELL_CHARS:
            problems.add(
                row=row.number,
                column=layout.where(column.field),
                message=f"单元格有 {len(text)} 个字符，超过 {MAX_CELL_CHARS} 个的上限",
                code="cell_too_long",
                value=text,
            )
            ok = False
        elif text[0] in CLEAR_START and text in CLEAR_MARKERS:
            if column.clearable:
                values[column.field] = column.empty
            else:
                problems.add(
                    row=row.number,
                    column=layout.where(column.field),
                    message=f"“{column.header}”不能清空"
                    + ("（必填项）" if column.required else "；留空则保留原值"),
                    code="not_clearable",
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
        else:
            value, what, change = tidy(column, text)
            if what is not None:
                note(index, what, change)
            values[column.field] = value
    if not ok:
        return None
    return values, (tuple(notes) if notes else _NO_NOTES)


def validate_row(
    model: type[M],
    row_number: int,
    values: dict[str, Any],
    layout: Layout,
    problems: Problems,
) -> M | None:
    try:
        # Keyed by field names (county_code), not the API's names (county).
        return model.model_validate(values, by_name=True)
    except ValidationError as exc:
        # A missing field is reported by its alias (the API's name): back to the field's.
        by_alias = {f.alias: name for name, f in model.model_fields.items() if f.alias}
        for err in exc.errors():
            loc = err.get("loc") or ()
            field_name = by_alias.get(str(loc[0]), str(loc[0])) if loc else None
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


@dataclass(frozen=True, slots=True)
class ValidRow(Generic[M]):
    """A row that passed its model: where it is, the validated record, the
    fields its cells gave, and what was tidied in them."""

    number: int
    model: M
    values: dict[str, Any]
    notes: tuple[str, ...]


def valid_rows(
    table: Table,
    filename: str,
    model: type[M],
    layout: Layout,
    problems: Problems,
    report: ImportReport,
) -> Iterator[ValidRow[M]]:
    """Each row that passes `model`. The problems of the other rows are added;
    a file that breaks part-way is refused like an unreadable one."""
    try:
        for row in table.rows:
            report.rows += 1
            read = read_cells(row, layout, problems, report)
            if read is None:
                continue
            values, notes = read
            valid = validate_row(model, row.number, values, layout, problems)
            if valid is not None:
                yield ValidRow(row.number, valid, values, notes)
    except TableError as exc:
        raise unreadable(filename, exc) from exc


def repeated_message(what: str, key: str, first: int) -> str:
    return f"{what} {key} 在文件中重复，第 {first} 行已出现"


def unreadable(filename: str, exc: TableError) -> ImportRejected:
    return ImportRejected(
        f"无法读取文件“{filename}”：{exc.message}",
        errors=[ProblemItem(message=exc.message, code=exc.code)],
        code="import_unreadable",
    )


def _shown(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


# The fields whose names in the API and the files ("county", "unit") are not
# their names in app code; history names the organisation by its column, "unit".
_PUBLIC_NAMES = {"county_code": "county", "organisation": "unit"}
_FIELD_OF_COLUMN = {"unit": "organisation"}


def _field_change(report: ImportReport, name: str, old: Any, new: Any) -> dict[str, Any]:
    """One field's change as the answer lists it; `name` is the field's (a new
    record's) or its column's (a changed record's history snapshot)."""
    field_name = _FIELD_OF_COLUMN.get(name, name)
    return {
        "field": _PUBLIC_NAMES.get(field_name, field_name),
        "column": report.where.get(field_name),
        "old": old,
        "new": new,
    }


def created(report: ImportReport, row: ValidRow[Any], key_field: str) -> dict[str, Any]:
    """A new record's entry in the list of changes: each field its cells gave."""
    fields = [
        _field_change(report, f, None, _shown(getattr(row.model, f)))
        for f in row.values
        if f != key_field
    ]
    return {
        "row": row.number,
        "key": getattr(row.model, key_field),
        "action": "create",
        "fields": fields,
        "warnings": list(row.notes),
    }


def count_update(
    report: ImportReport,
    row: ValidRow[Any],
    key: str,
    before: dict[str, Any],
    proposed: dict[str, Any],
    changes: list[dict[str, Any]],
) -> list[str]:
    """The fields a stored record's update changes (none: counted unchanged);
    a change is counted, and its entry added to `changes`."""
    changed = sorted(k for k in proposed if proposed[k] != before[k])
    if not changed:
        report.unchanged += 1
        return changed
    report.updated += 1
    changes.append(updated(report, row, key, before, proposed, changed))
    return changed


def updated(
    report: ImportReport,
    row: ValidRow[Any],
    key: str,
    before: dict[str, Any],
    after: dict[str, Any],
    changed: Sequence[str],
) -> dict[str, Any]:
    """A stored record's entry in the list of changes: each changed field, old and new."""
    return {
        "row": row.number,
        "key": key,
        "action": "update",
        "fields": [_field_change(report, f, before[f], after[f]) for f in changed],
        "warnings": list(row.notes),
    }
