"""A file's enterprises read into the records the writer stores, at the speed a
million-row file needs, under the API's own rules and messages.

Most rows of a bureau's file are plain: codes already ASCII, labels spelled as
the vocabulary spells them, the same county and category on thousands of rows.
Such a row is read here without a model per row: each cell by its column's
converter, and the cells whose values repeat (county, category, status, grade,
tags, yes/no) looked up in a memo of what the API's own model made of that
very text. A row this path is not sure of (a blank required cell, an unknown
label, a wrong check character, a NUL, a clear marker, a number Excel made of a
code...) goes whole to the general reading (`rows.read_cells`, then the model),
which names every problem as it always has; so a row is accepted here only
where the model accepts it, with the same values.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app import reference as ref
from app.pools import schemas
from app.pools.cells import CLEAR_MARKERS
from app.pools.columns import Column
from app.pools.enterprise_writer import NewEnterprise
from app.pools.rows import (
    CLEAR_START,
    MAX_CELL_CHARS,
    ImportReport,
    Layout,
    Problems,
    ValidRow,
    read_cells,
    tidy,
    unreadable,
    validate_row,
)
from app.pools.tabular import Row, Table, TableError, column_letter, looks_like_excel_number
from app.pools.uscc import is_normal_uscc
from app.text import UncleanText, clean_text


@dataclass(slots=True)
class EnterpriseRow:
    """A row of enterprises that passed: where it is, the record to store, the
    fields its cells gave (as the model reads them), and what was tidied."""

    number: int
    new: NewEnterprise
    values: dict[str, Any]
    notes: tuple[str, ...]
    _model: schemas.EnterpriseCreate | None = None

    def valid(self) -> ValidRow[schemas.EnterpriseCreate]:
        """The row as the model reads it, for the few rows whose changes are
        listed or that update a stored record (the row passed: this cannot fail)."""
        if self._model is None:
            self._model = schemas.EnterpriseCreate.model_validate(self.values, by_name=True)
        return ValidRow(self.number, self._model, self.values, self.notes)


def enterprise_rows(
    table: Table, filename: str, layout: Layout, problems: Problems, report: ImportReport
) -> Iterator[EnterpriseRow]:
    """Each row of `table` that passes, as a record; the problems of the others
    are added. A file that breaks part-way is refused like an unreadable one."""
    fast = _Plan(layout)
    try:
        for row in table.rows:
            report.rows += 1
            read = fast.read(row)
            if read is not None:
                new, values, notes = read
                told = _NO_NOTES
                if notes:
                    for where, what, _how in notes:
                        report.note_normalised(row.number, where, what)
                    told = tuple(f"{w}：{t}{c}" for w, t, c in notes)
                yield EnterpriseRow(row.number, new, values, told)
                continue
            cells = read_cells(row, layout, problems, report)
            if cells is None:
                continue
            values, texts = cells
            model = validate_row(schemas.EnterpriseCreate, row.number, values, layout, problems)
            if model is not None:
                yield EnterpriseRow(row.number, NewEnterprise.of(model), values, texts, model)
    except TableError as exc:
        raise unreadable(filename, exc) from exc


_NO_NOTES: tuple[str, ...] = ()


# -- the converters -------------------------------------------------------------

# A cell's value as the model is given it, the field's validated value, and
# what was tidied ("what", "（“a”→“b”）"); or None: the row goes the general way.
_Cell = tuple[Any, Any, str | None, str] | None
# Distinct texts remembered per column: the county column of any file has a few
# dozen; a hostile file with a million distinct ones is read, but not remembered.
MEMO_SIZE = 4_096
_KEY = re.compile(r"[^\s:]+")  # schemas.KeyText's pattern; Python's \s covers pydantic's
_REPEATING = frozenset(
    {"county_code", "sector", "subtype", "status", "risk_grade", "key_supervision", "tags"}
)


def _plain(column: Column, text: str) -> bool:
    """Whether the general reading would only tidy this cell (no problem to
    name, no clear marker): the cells `rows.read_cells` takes to `tidy`."""
    return not (
        len(text) > MAX_CELL_CHARS
        or (text[0] in CLEAR_START and text in CLEAR_MARKERS)
        or "\x00" in text
        or (
            column.text
            and ("." in text or "E" in text or "e" in text)  # what an Excel number needs
            and looks_like_excel_number(text)
        )
    )


def _clean(text: str) -> bool:
    """Whether `text` is stored as it is: pydantic's stripping and CleanInput's
    check leave it unchanged (Python's strip removes all that pydantic's does)."""
    try:
        return clean_text(text) == text
    except UncleanText:
        return False


def _by_model(column: Column) -> Callable[[str], _Cell]:
    """A repeating column's converter: what the API's own model makes of the
    text, alone in a partial update (the same field types and checks)."""
    name = column.field

    def convert(text: str) -> _Cell:
        if not _plain(column, text):
            return None
        given, what, change = tidy(column, text)
        try:
            value = getattr(
                schemas.EnterpriseUpdate.model_validate({name: given}, by_name=True), name
            )
        except ValidationError:
            return None
        return None if value is None else (given, value, what, change)

    return convert


def _code(column: Column, accepts: Callable[[str], bool]) -> Callable[[str], _Cell]:
    """A code column's converter: the code once tidied, if `accepts` takes it as stored."""

    def convert(text: str) -> _Cell:
        if not _plain(column, text):
            return None
        given, what, change = tidy(column, text)
        return (given, given, what, change) if accepts(given) else None

    return convert


def _pair_key(key: str) -> bool:
    """Whether schemas.KeyText keeps `key` as it is."""
    return len(key) <= 64 and _KEY.fullmatch(key) is not None and _clean(key)


def _text(column: Column, least: int, most: int) -> Callable[[str], _Cell]:
    def convert(text: str) -> _Cell:
        if not _plain(column, text) or not least <= len(text) <= most or not _clean(text):
            return None
        return text, text, None, ""

    return convert


def _memo(convert: Callable[[str], _Cell]) -> Callable[[str], _Cell]:
    """`convert` remembering up to MEMO_SIZE texts (it is a pure function of the text)."""
    seen: dict[str, _Cell] = {}

    def remembered(text: str) -> _Cell:
        try:
            return seen[text]
        except KeyError:
            found = convert(text)
            if len(seen) < MEMO_SIZE:
                seen[text] = found
            return found

    return remembered


def _converter(column: Column) -> Callable[[str], _Cell]:
    if column.field in _REPEATING:
        return _memo(_by_model(column))
    if column.field == "uscc":
        # Once tidied, most codes are already in their normal form: then only
        # the check character is computed (validate_uscc would give them back).
        return _code(column, is_normal_uscc)
    if column.field == "pair_key":
        return _code(column, _pair_key)
    if column.field == "name":
        return _text(column, 2, 200)
    if column.field == "address":
        return _text(column, 0, 300)
    raise ValueError(f"no converter for the enterprise column {column.field}")


# The record, the cells' values as given to the model, and what was tidied
# (where, what, how), in the file's order.
_Read = tuple[NewEnterprise, dict[str, Any], list[tuple[str, str, str]]]


class _Plan:
    """The converters of a file's columns, in the file's order."""

    def __init__(self, layout: Layout) -> None:
        self.cells = tuple(
            (index, column.field, f"{column_letter(index)}（{layout.headers[index]}）",
             _converter(column))
            for index, column in layout.present
        )  # fmt: skip

    def read(self, row: Row) -> _Read | None:
        """What the row reads as, or None if the row is not plain."""
        if row.numeric:
            return None
        texts, trimmed = row.texts, row.trimmed
        width = len(texts)
        given: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        notes: list[tuple[str, str, str]] = []
        for index, name, where, convert in self.cells:
            if index >= width:
                break
            text = texts[index]
            if not text:
                continue
            if trimmed and index in trimmed:
                notes.append((where, "去掉了首尾空格", ""))
            cell = convert(text)
            if cell is None:
                return None
            given[name], fields[name], what, change = cell
            if what is not None:
                notes.append((where, what, change))
        return _record(fields, given, notes)


def _record(
    fields: dict[str, Any], given: dict[str, Any], notes: list[tuple[str, str, str]]
) -> _Read | None:
    """The record of a row's field values, with EnterpriseCreate's required
    fields and its checks across fields; None where the model would object."""
    try:
        uscc, name, county_code, subtype = (
            fields["uscc"], fields["name"], fields["county_code"], fields["subtype"]
        )  # fmt: skip
    except KeyError:
        return None
    sector = ref.SECTOR_OF_SUBTYPE[subtype]
    if fields.get("sector", sector) != sector:
        return None
    tags = fields.get("tags", ())
    pair_key = fields.get("pair_key")
    if "highway_station" in tags and not pair_key:
        return None
    new = NewEnterprise(
        uscc, name, county_code, sector, subtype, fields.get("status", "operating"),
        fields.get("risk_grade"), fields.get("key_supervision", False), pair_key,
        fields.get("address", ""), tuple(tags),
    )  # fmt: skip
    return new, given, notes
