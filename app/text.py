"""Clean text: what every string a client sends must be before it is stored.

Names, titles and notes end up in the public log for ever and on public pages:
they must read the same everywhere and hide nothing. So text is Unicode NFC,
trimmed, and free of control characters (tab and newline only in multi-line
fields), of bidirectional controls (which reorder what a reader sees: "U+202E"
makes "gpj.exe" look like "exe.jpg"), and of unpaired surrogates (which no
encoding can store). `CleanInput` is the base of every input model; `clean_text`
is the check itself, also for headers.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from pydantic import BaseModel, ValidationInfo, field_validator

# C0 and C1 controls and DEL (tab and newline are allowed where a field is
# multi-line); bidirectional formatting characters (embeddings, overrides,
# isolates, marks); surrogates, which in a str are always unpaired.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FORBIDDEN = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_FORBIDDEN_IN_LINES = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


class UncleanText(ValueError):
    """Text that may not be stored, with a Chinese message saying why."""


def clean_text(value: str, *, multiline: bool = False) -> str:
    """The text trimmed and in NFC, or UncleanText saying what is wrong with it.

    >>> clean_text("  Cafe\u0301 ")
    'Café'
    """
    if multiline and "\r" in value:
        value = value.replace("\r\n", "\n")
    found = (_FORBIDDEN_IN_LINES if multiline else _FORBIDDEN).search(value)
    if found is not None:
        raise UncleanText(_why(found.group()))
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        value = unicodedata.normalize("NFC", value)
    return value.strip()


def _why(char: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return "含有无法保存的字符（不成对的代理项 surrogate），请检查文字的编码"
    if _BIDI.match(char):
        return f"含有改变文字显示方向的控制字符 U+{ord(char):04X}，请删除后重试"
    return f"含有不可见的控制字符 U+{ord(char):04X}，请删除后重试"


# Fields that may span lines (a note, a reason); every other string is one line.
MULTILINE_FIELDS = frozenset({"note", "reason", "description"})


def _clean_any(value: Any, *, multiline: bool) -> Any:
    if type(value) is str:  # not an enum member, which is a str too
        return clean_text(value, multiline=multiline)
    if isinstance(value, list):
        return [_clean_any(item, multiline=multiline) for item in value]
    if isinstance(value, dict):
        return {key: _clean_any(item, multiline=multiline) for key, item in value.items()}
    return value


class CleanInput(BaseModel):
    """Base of every model a client's input is validated with, in the API and in imports.

    Every string of every field, in lists and nested objects too, must be clean
    text (`clean_text`), checked once the field has its type, so a violation is
    a 422 naming the field. (After, not before: pydantic allows no earlier
    validator on the field that tells a union's members apart.)
    """

    @field_validator("*", mode="after")
    @classmethod
    def _clean_strings(cls, value: Any, info: ValidationInfo) -> Any:
        return _clean_any(value, multiline=info.field_name in MULTILINE_FIELDS)
