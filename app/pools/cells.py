"""The forms in which clerks type values, and the one form the directory keeps.

Pure functions over text, used by the API's validators and by the importer
(which also tells the clerk what it changed). Each returns its argument
itself when there is nothing to change, so callers compare with `is`.
"""

from __future__ import annotations

import re

# Full-width ASCII (ＡＢＣ１２３－) and the ideographic space, as a Chinese input
# method types them, to their ASCII forms.
_HALF_WIDTH = str.maketrans({chr(0xFF01 + i): chr(0x21 + i) for i in range(94)} | {"\u3000": " "})
# Vocabulary labels are written with full-width brackets: 危险化学品经营企业（带储存）.
_TERM_FORM = str.maketrans(
    {chr(0xFF01 + i): chr(0x21 + i) for i in range(94) if chr(0xFF01 + i) not in "（）"}
    | {"(": "（", ")": "）", "\u3000": " "}
)
_NEEDS_TERM_FORM = re.compile(r"[()\u3000\uFF01-\uFF07\uFF0A-\uFF5E]")

# What a clerk writes in a cell to clear the stored value (a blank cell keeps it).
CLEAR_MARKERS = frozenset({"（清空）", "(清空)", "【清空】", "[清空]"})


def half_width(text: str) -> str:
    """A code with full-width letters and digits made ASCII.

    >>> half_width("９１４３０４２２ＭＡ４Ｌ"), half_width("HN-0431")
    ('91430422MA4L', 'HN-0431')
    """
    if text.isascii():
        return text
    converted = text.translate(_HALF_WIDTH)
    return text if converted == text else converted


def term_form(text: str) -> str:
    """A vocabulary label as the vocabulary writes it: full-width brackets,
    ASCII letters and digits.

    >>> term_form("危险化学品经营企业(带储存)"), term_form("Ｂ"), term_form("加油站")
    ('危险化学品经营企业（带储存）', 'B', '加油站')
    """
    if not _NEEDS_TERM_FORM.search(text):
        return text
    return text.translate(_TERM_FORM)
