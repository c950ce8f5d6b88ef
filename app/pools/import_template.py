"""The import template a clerk downloads: headers, an example row, drop-down lists
and a sheet explaining every column (the columns come from app.pools.columns)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import xlsxwriter

from app.pools.tabular import column_letter


@dataclass(frozen=True, slots=True)
class TemplateColumn:
    """A column of an import template."""

    name: str
    required: bool
    text: bool
    example: str
    choices: tuple[str, ...] | None
    help: str


_TEMPLATE_ROWS = 10_000


def template_xlsx(columns: Sequence[TemplateColumn]) -> bytes:
    """An import template: headers, one example row, text-formatted code columns,
    drop-down lists, and a sheet explaining every column."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(
        buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    )
    sheet = book.add_worksheet("导入数据")
    lists = book.add_worksheet("代码表")
    notes = book.add_worksheet("填写说明")
    required = book.add_format(
        {"bold": True, "font_color": "#C00000", "bg_color": "#FCE4D6", "border": 1}
    )
    optional = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1})
    text = book.add_format({"num_format": "@"})
    for col, column in enumerate(columns):
        sheet.set_column(
            col, col, max(12, min(40, 2 * len(column.name) + 4)), text if column.text else None
        )
        sheet.write_string(0, col, column.name, required if column.required else optional)
        sheet.write_string(1, col, column.example)
        if column.choices:
            lists.write_string(0, col, column.name)
            for r, choice in enumerate(column.choices, start=1):
                lists.write_string(r, col, choice)
            letter = column_letter(col)
            # A list source on another sheet: inline lists are limited to 255 characters.
            sheet.data_validation(
                1,
                col,
                _TEMPLATE_ROWS,
                col,
                {
                    "validate": "list",
                    "source": f"='代码表'!${letter}$2:${letter}${len(column.choices) + 1}",
                    "error_type": "warning",
                    "error_message": f"请从下拉列表中选择{column.name}",
                },
            )
    sheet.freeze_panes(1, 0)
    notes.write_row(0, 0, ["列名", "是否必填", "说明", "示例"], optional)
    notes.set_column(0, 0, 20)
    notes.set_column(2, 2, 60)
    notes.set_column(3, 3, 24)
    for r, column in enumerate(columns, start=1):
        notes.write_string(r, 0, column.name)
        notes.write_string(r, 1, "必填" if column.required else "选填")
        notes.write_string(r, 2, column.help + ("；请保持文本格式" if column.text else ""))
        notes.write_string(r, 3, column.example)
    notes.write_string(
        len(columns) + 2, 0, "第一行是表头，请勿修改；第二行为示例，导入前请删除或改为真实数据。"
    )
    book.close()
    return buffer.getvalue()
