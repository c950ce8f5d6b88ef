"""Clean text: what every string a client sends must be before it is stored.

Names, titles and notes end up in the public log for ever and on public pages:
they must read the same everywhere and hide nothing. So text is Unicode NFC,
trimmed, and free of control characters (tab and newline only in multi-line
fields), of bidirectional controls (which reorder what a reader sees: "U+202E"
makes "gpj.exe" look like "exe.jpg"), and of unpaired surrogates (which no
encoding can store). `CleanStr` and `CleanText` are the pydantic types of single-
and multi-line fields; `clean_text` is the check itself, for headers and cells.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import BeforeValidator

# C0 and C1 controls and DEL; tab and newline are allowed where a field is multi-line.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional formatting characters: embeddings, overrides, isolates, marks.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATES = re.compile("[\ud800-\udfff]")


class UncleanText(ValueError):
    """Text that may not be stored, with a Chinese message saying why."""


def clean_text(value: str, *, multiline: bool = False) -> str:
    """The text trimmed and in NFC, or UncleanText saying what is wrong with it.

    >>> clean_text("  Cafe\\u0301 ")
    'Café'
    """
    if _SURROGATES.search(value):
        raise UncleanText("含有无法保存的字符（不成对的代理项 surrogate），请检查文字的编码")
    if multiline:
        value = value.replace("\r\n", "\n")
    found = (_CONTROLS_BUT_LINES if multiline else _CONTROLS).search(value)
    if found:
        raise UncleanText(f"含有不可见的控制字符 U+{ord(found.group()):04X}，请删除后重试")
    found = _BIDI.search(value)
    if found:
        raise UncleanText(
            f"含有改变文字显示方向的控制字符 U+{ord(found.group()):04X}，请删除后重试"
        )
    return unicodedata.normalize("NFC", value).strip()


def _single_line(value: object) -> object:
    return clean_text(value) if isinstance(value, str) else value


def _multi_line(value: object) -> object:
    return clean_text(value, multiline=True) if isinstance(value, str) else value


# Before the field's own constraints, so that lengths count the cleaned text.
CleanStr = Annotated[str, BeforeValidator(_single_line)]
CleanText = Annotated[str, BeforeValidator(_multi_line)]
