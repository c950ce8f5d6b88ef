"""Small checks of a frame's JSON shape, each raising FrameInvalid with a path.

>>> key("9143040047RG6CL0EH", "strata[0].units[0].key")
'9143040047RG6CL0EH'
>>> key("a b", "strata[0].units[1].key")
Traceback (most recent call last):
...
app.algorithm.errors.FrameInvalid: strata[0].units[1].key: a key must be a non-empty string \
without ':' or white space
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from app.algorithm.errors import FrameInvalid

# Spec section 2: non-empty, no ":" and no white space. Python's \s is Unicode
# white space, so the ideographic space U+3000 a Chinese IME types is refused
# too. Lone surrogates are refused because they have no UTF-8 form to hash.
KEY = re.compile(r"[^\s:\ud800-\udfff]+")
STRATUM_ID = re.compile(r"[a-z0-9_-]{1,64}")


def at(path: str, name: str | int) -> str:
    """The path of a field or an item below `path`.

    >>> at("", "strata"), at("strata", 0), at("strata[0]", "units")
    ('strata', 'strata[0]', 'strata[0].units')
    """
    if isinstance(name, int):
        return f"{path}[{name}]"
    return f"{path}.{name}" if path else name


def obj(
    value: Any, path: str, required: Collection[str], optional: Collection[str] = ()
) -> Mapping[str, Any]:
    """`value` as an object with all `required` fields and no unknown ones."""
    if not isinstance(value, Mapping):
        raise FrameInvalid("wrong_type", path, "must be an object")
    for name in required:
        if name not in value:
            raise FrameInvalid("missing_field", at(path, name), "is required")
    unknown = [name for name in value if name not in required and name not in optional]
    if unknown:
        # An unknown field would be committed in the hash yet ignored by the
        # draw: refusing it keeps "what the frame says" and "what is done" one.
        name = str(unknown[0])
        raise FrameInvalid("unknown_field", at(path, name), "is not a field of draw/1", name)
    return value


def array(value: Any, path: str, *, non_empty: bool = False) -> list[Any]:
    """`value` as a JSON array."""
    if not isinstance(value, list | tuple):
        raise FrameInvalid("wrong_type", path, "must be a list")
    if non_empty and not value:
        raise FrameInvalid("empty", path, "must not be empty")
    return list(value)


def text(value: Any, path: str) -> str:
    """`value` as a non-empty string."""
    if not isinstance(value, str) or not value:
        raise FrameInvalid("wrong_type", path, "must be a non-empty string", _shown(value))
    return value


def key(value: Any, path: str) -> str:
    """`value` as a key (spec section 2)."""
    if not isinstance(value, str) or not KEY.fullmatch(value):
        raise FrameInvalid(
            "key_syntax",
            path,
            "a key must be a non-empty string without ':' or white space",
            _shown(value),
        )
    return value


def positive_int(value: Any, path: str) -> int:
    """`value` as an integer of at least 1 (a JSON 3.0 or true is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise FrameInvalid(
            "wrong_type", path, "must be a whole number of at least 1", _shown(value)
        )
    return value


def unique(values: list[str], path: str) -> None:
    """Refuse a repeated value in `values`."""
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise FrameInvalid("duplicate_key", at(path, index), "appears twice", value)
        seen.add(value)


def _shown(value: Any) -> str | None:
    """The offending value as text for an error, briefly."""
    return None if value is None else repr(value)[:200]
