"""Reading and writing the spreadsheets and CSV files bureaus exchange.

Pure functions over files and bytes. Reading keeps what validation needs to speak to a
clerk: the row number as Excel or a text editor shows it, the column, and
whether a spreadsheet cell was a *number* (how Excel destroys an 18-character
code: 914304001234567890 becomes 9.14304E+17).
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, BinaryIO, TextIO

import xlsxwriter
from python_calamine import CalamineError, CalamineWorkbook

from app.pools.file_text import TableError as TableError  # read from here too
from app.pools.file_text import open_text, pieces

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEADER_MARKS = re.compile(r"(\*|＊|（必填）|\(必填\))$")
_SPACES = re.compile(r"[\s\u3000]+")
_EXCEL_NUMBER = re.compile(r"^-?[0-9]+(?:[.,][0-9]+)?[Ee][+-]?[0-9]+$|^-?[0-9]+\.0+$")
# OWASP: a cell beginning with one of these may run as a formula in a spreadsheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# What the CSV export prefixes with a quote, and so what its import takes it off.
_NEUTRALISED = (*_FORMULA_START, "'")
_RESTORED = frozenset(_NEUTRALISED)


@dataclass(slots=True)
class Row:
    """A data row: its number as the clerk sees it (the header is its own row),
    each cell as stripped text, and which cells a spreadsheet stored as numbers
    (how Excel destroys an 18-character code)."""

    number: int
    texts: list[str]
    numeric: frozenset[int] = frozenset()
    trimmed: frozenset[int] = frozenset()  # cells whose spaces around the text were removed


@dataclass(frozen=True, slots=True)
class Table:
    """A file's header, and its data rows read as they are iterated (once).

    `header_row` is the row the header was found in (titles and notes above it
    are skipped: `skipped` counts those that were not blank).

    A million-row file is never held as a million row objects: the importer
    validates and writes it a chunk at a time. A file that turns out broken
    part-way raises TableError from the iteration.
    """

    headers: tuple[str, ...]
    header_row: int
    rows: Iterator[Row]
    format: str
    encoding: str | None = None
    size_hint: int = 0  # about how many data rows, for progress bars
    skipped: int = 0


def column_letter(index: int) -> str:
    """Excel's column name of a 0-based index.

    >>> column_letter(0), column_letter(25), column_letter(26), column_letter(702)
    ('A', 'Z', 'AA', 'AAA')
    """
    name = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def looks_like_excel_number(text: str) -> bool:
    """True for what Excel makes of a long code: "9.14E+17", "914304.0".

    >>> looks_like_excel_number("9.14304E+17"), looks_like_excel_number("91430400MA4L1X2Y3Z")
    (True, False)
    """
    return bool(_EXCEL_NUMBER.match(text.strip()))


def normalise_header(text: str) -> str:
    """A header without spaces or required-field marks: "统一社会信用代码 *" -> "统一社会信用代码"."""
    return _HEADER_MARKS.sub("", _SPACES.sub("", text))


# A header is looked for among this many non-blank rows at the top of a file.
HEADER_SEARCH_ROWS = 30
HeaderTest = Callable[[Sequence[str]], bool]


def read_table(
    file: BinaryIO,
    filename: str | None = None,
    sheet: str | None = None,
    is_header: HeaderTest | None = None,
) -> Table:
    """Read a CSV (UTF-8, UTF-8 with BOM, GB18030), XLSX or XLS file.

    `file` is read from its start, a piece at a time: a CSV's rows are decoded
    as they are iterated, so a million-row upload is never held in memory
    (`file` must stay open while they are; it is not closed here).

    The header is the first row that `is_header` accepts (given its cells as
    normalised header names), so titles, notes and merged banners above it are
    skipped; without such a row, or without `is_header`, the first non-blank row.
    """
    if not any(piece.strip() for piece in pieces(file)):
        raise TableError("empty_file", "文件是空的")
    file.seek(0)
    magic = file.read(len(XLS_MAGIC))
    file.seek(0)
    if magic.startswith(XLSX_MAGIC):
        return _table(*_spreadsheet_rows(file, sheet), "xlsx", None, is_header)
    if magic.startswith(XLS_MAGIC):
        return _table(*_spreadsheet_rows(file, sheet), "xls", None, is_header)
    stream, encoding = open_text(file)
    # Lines, for the progress bar: a newline byte is a newline in both encodings.
    lines = sum(piece.count(b"\n") for piece in pieces(file))
    file.seek(0)
    return _table(_csv_rows(stream), lines, "csv", encoding, is_header)


def _csv_rows(stream: TextIO) -> Iterator[Row]:
    # A title line above the header has few separators or none: judge by the
    # top lines' widest.
    top = list(itertools.islice(stream, HEADER_SEARCH_ROWS))
    tabs, commas = (max((line.count(sep) for line in top), default=0) for sep in ("\t", ","))
    delimiter = "\t" if tabs > commas else ","
    reader = csv.reader(itertools.chain(top, stream), delimiter=delimiter)
    line = 1
    try:
        for record in reader:
            texts = list(map(str.strip, record))
            trimmed = _trimmed(record, texts)
            # Undo the export's formula guard (inline: a million rows pass here).
            restored = [v[1:] if v[:1] == "'" and v[1:2] in _RESTORED else v for v in texts]
            yield Row(line, restored, trimmed=trimmed)
            # A quoted field may span lines: the next record starts after them.
            line = reader.line_num + 1
    except csv.Error as exc:
        raise TableError("unreadable_file", f"第 {line} 行不是合规的 CSV：{exc}") from exc


def _spreadsheet_rows(file: BinaryIO, sheet: str | None) -> tuple[Iterator[Row], int]:
    try:
        book = CalamineWorkbook.from_filelike(file)
        pages = book.get_sheet_by_name(sheet) if sheet else book.get_sheet_by_index(0)
        records = pages.iter_rows()
        # Rows are yielded from the sheet's first row, but cells only from its
        # first used column: pad them, so column letters are Excel's.
        first_column = pages.start[1] if pages.start else 0
        last_row = pages.end[0] + 1 if pages.end else 0
    except (CalamineError, ValueError, OSError) as exc:
        raise TableError("unreadable_file", f"无法读取表格文件：{exc}") from exc
    return _typed_rows(records, first_column), last_row


_ONLY_TEXT = {str}


def _typed_rows(records: Iterator[list[Any]], first_column: int) -> Iterator[Row]:
    padding = [""] * first_column
    number = 0
    try:
        for number, values in enumerate(records, start=1):
            if set(map(type, values)) == _ONLY_TEXT:  # most rows: no per-cell conversion
                texts = [v.strip() for v in values]
                yield Row(number, padding + texts, trimmed=_trimmed(values, texts, first_column))
                continue
            numeric = frozenset(
                first_column + i
                for i, v in enumerate(values)
                if isinstance(v, int | float) and not isinstance(v, bool)
            )
            texts = [_text(v) for v in values]
            # Only text cells can have had spaces around them.
            raw = [v if isinstance(v, str) else t for v, t in zip(values, texts, strict=True)]
            trimmed = _trimmed(raw, texts, first_column)
            yield Row(number, padding + texts, numeric, trimmed)
    except (CalamineError, ValueError, OSError) as exc:
        raise TableError("unreadable_file", f"第 {number + 1} 行无法读取：{exc}") from exc


_NONE: frozenset[int] = frozenset()


def _trimmed(raw: Sequence[str], texts: list[str], offset: int = 0) -> frozenset[int]:
    """Which cells lost spaces around their text (not those that were only spaces)."""
    if texts == raw:  # str.strip returns the same string when there is nothing to strip
        return _NONE
    return frozenset(
        offset + i for i, (a, b) in enumerate(zip(raw, texts, strict=True)) if b and a != b
    )


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, int | float):
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value).strip()


def _table(
    rows: Iterator[Row], lines: int, fmt: str, encoding: str | None, is_header: HeaderTest | None
) -> Table:
    non_empty = (row for row in rows if any(row.texts))
    header, skipped, rest = _find_header(non_empty, is_header)
    headers = [normalise_header(text) for text in header.texts]
    while headers and not headers[-1]:
        headers.pop()
    seen: dict[str, int] = {}
    for index, name in enumerate(headers):
        if name and name in seen:
            raise TableError(
                "duplicate_header",
                f"表头“{name}”出现两次（{column_letter(seen[name])} 列和 {column_letter(index)} 列）",
            )
        seen[name] = index
    size_hint = max(lines - header.number, 0)
    return Table(tuple(headers), header.number, rest, fmt, encoding, size_hint, skipped)


def _find_header(
    rows: Iterator[Row], is_header: HeaderTest | None
) -> tuple[Row, int, Iterator[Row]]:
    """The header row, how many rows above it were skipped, and the rows after it."""
    looked: list[Row] = []
    for row in rows:
        looked.append(row)
        if is_header is None or is_header([normalise_header(text) for text in row.texts]):
            return row, len(looked) - 1, rows
        if len(looked) == HEADER_SEARCH_ROWS:
            break
    if not looked:
        raise TableError("no_header", "文件中没有表头行")
    # No row looks like the header: the first is taken, and the importer says
    # which columns it lacks.
    return looked[0], 0, itertools.chain(looked[1:], rows)


def neutralise(text: str) -> str:
    """A cell value that no spreadsheet will run as a formula.

    A value that begins with the quote itself gets one more, so that reading
    the file back (`restore_neutralised`) can always take exactly one off.

    >>> neutralise("=1+2"), neutralise("衡南县"), neutralise("'=1")
    ("'=1+2", '衡南县', "''=1")
    """
    return "'" + text if text.startswith(_NEUTRALISED) else text


def restore_neutralised(text: str) -> str:
    """The value `neutralise` was given: export then import changes nothing.

    >>> restore_neutralised("'=1+2"), restore_neutralised("'0731"), restore_neutralised("''=1")
    ('=1+2', "'0731", "'=1")
    """
    return text[1:] if text[:1] == "'" and text[1:2] in _RESTORED else text


_PLAIN_CODE = re.compile(r"[0-9A-Za-z-]+")


def as_excel_text(code: str) -> str:
    """A code Excel keeps as text when it opens a CSV, not 9.14E+17.

    Only plain codes (letters, digits, hyphens) are wrapped, so the formula is a
    constant string and cannot run anything.

    >>> as_excel_text("914304007000000001"), as_excel_text("=1+2")
    ('="914304007000000001"', "'=1+2")
    """
    return f'="{code}"' if _PLAIN_CODE.fullmatch(code) else neutralise(code)


def write_csv(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, text_columns: set[int] | None = None
) -> bytes:
    """The CSV of `write_csv_to`, as bytes."""
    buffer = io.BytesIO()
    write_csv_to(buffer, headers, rows, text_columns=text_columns)
    return buffer.getvalue()


# Rows are encoded and written out this many at a time.
_CSV_CHUNK_ROWS = 1000


def write_csv_to(
    out: BinaryIO,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    text_columns: set[int] | None = None,
) -> None:
    """UTF-8 with BOM (so Excel on Chinese Windows reads it), CRLF, formula-safe;
    written as the rows come, so that no more than a chunk of them is held.

    `text_columns` hold codes that Excel must keep as text (see `as_excel_text`).
    """
    texts = text_columns or set()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    out.write(b"\xef\xbb\xbf")
    writer.writerow([neutralise(h) for h in headers])
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [as_excel_text(v) if col in texts else neutralise(v) for col, v in enumerate(row)]
        )
        if count % _CSV_CHUNK_ROWS == 0:
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
    out.write(buffer.getvalue().encode("utf-8"))


def display_width(text: str) -> int:
    """Columns a text takes in a spreadsheet: CJK characters count two.

    >>> display_width("衡阳AB")
    6
    """
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


# Column widths are measured on the first rows only: an export may have a million.
_WIDTH_SAMPLE_ROWS = 1000


def write_xlsx(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    sheet_name: str,
    text_columns: set[int] | None = None,
) -> bytes:
    """The XLSX of `write_xlsx_to`, as bytes."""
    buffer = io.BytesIO()
    write_xlsx_to(buffer, headers, rows, sheet_name=sheet_name, text_columns=text_columns)
    return buffer.getvalue()


def write_xlsx_to(
    out: BinaryIO,
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    sheet_name: str,
    text_columns: set[int] | None = None,
) -> None:
    """An XLSX whose every cell is a string (never a formula), codes formatted as text.

    Written row by row (xlsxwriter's constant memory mode keeps each finished
    row in a temporary file, not in memory); only the rows that set the column
    widths are held at once.
    """
    book = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    sheet = book.add_worksheet(sheet_name[:31])
    bold = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    remaining = iter(rows)
    sample = list(itertools.islice(remaining, _WIDTH_SAMPLE_ROWS))
    for col, header in enumerate(headers):
        widest = max(
            [display_width(header)] + [display_width(r[col]) for r in sample if col < len(r)]
        )
        width = max(10, min(60, widest + 2))
        sheet.set_column(col, col, width, text if col in (text_columns or set()) else None)
        sheet.write_string(0, col, header, bold)
    sheet.freeze_panes(1, 0)
    for r, row in enumerate(itertools.chain(sample, remaining), start=1):
        for col, value in enumerate(row):
            sheet.write_string(r, col, value)
    book.close()
