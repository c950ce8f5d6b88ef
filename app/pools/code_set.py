"""A set of USCCs kept compactly and exactly: a million-row import remembers
every code of its file (to refuse a repeated one) and of the directory (to
tell creates from updates), and these sets are what grows with the file.

A code as Python keeps it costs some 70 bytes (an 18-character string) besides its
slot in the set. Here a code in the normal form (GB 32100's 18 characters:
digits and capitals) is kept as two exact parts: its first 8 characters
(authority, category and region: a few dozen distinct values in a bureau's
file) name a set of their own, and its last 10 characters, read as one base-36
number (below 36**10 < 2**52), are a 32-byte int in that set. Reading 10 digits
and capitals in base 36 is one-to-one, so two codes are the same entry only if
they are the same code: nothing is hashed away. Anything else (a stored code a
database administrator edited by hand, say) is kept as the string it is.

>>> codes = CodeSet()
>>> codes.add("91430400MA4L1X2Y3Z"), codes.add("91430400MA4L1X2Y3Z"), "91430400MA4L1X2Y30" in codes
(True, False, False)
"""

from __future__ import annotations

import re

# Digits and capitals only: base 36 would read "a" as "A".
_normal = re.compile(r"[0-9A-Z]{18}").fullmatch
_SPLIT = 8


class CodeSet:
    """USCCs, added and tested one at a time."""

    __slots__ = ("_by_prefix", "_others", "_size")

    def __init__(self) -> None:
        self._by_prefix: dict[str, set[int]] = {}
        self._others: set[str] = set()
        self._size = 0

    def add(self, code: str) -> bool:
        """Add `code`; whether it was new."""
        if _normal(code) is None:
            if code in self._others:
                return False
            self._others.add(code)
        else:
            tail = int(code[_SPLIT:], 36)
            kept = self._by_prefix.get(code[:_SPLIT])
            if kept is None:
                kept = self._by_prefix[code[:_SPLIT]] = set()
            elif tail in kept:
                return False
            kept.add(tail)
        self._size += 1
        return True

    def __contains__(self, code: object) -> bool:
        if not self._size or not isinstance(code, str):  # an empty directory: most imports
            return False
        if _normal(code) is None:
            return code in self._others
        kept = self._by_prefix.get(code[:_SPLIT])
        return kept is not None and int(code[_SPLIT:], 36) in kept

    def __len__(self) -> int:
        return self._size
