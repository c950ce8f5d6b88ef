"""Hashes of frames and results: SHA-256 of their RFC 8785 (JCS) bytes.

>>> jcs({"b": [1, "二"], "a": None})
b'{"a":null,"b":[1,"\\xe4\\xba\\x8c"]}'
>>> sha256_hex(b"abc")[:16]
'ba7816bf8f01cfea'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import rfc8785

from app.algorithm.errors import FrameInvalid

# Integers JCS writes as plain digits (beyond them, I-JSON has no exact number).
_SAFE_INTEGER = 2**53
# From U+D800 on, UTF-16 order (JCS's key order) and code point order (Python's)
# may differ, and lone surrogates must be refused: such text takes the slow road.
_ORDER_MAY_DIFFER = re.compile("[\ud800-\U0010ffff]")


def _plain(value: Any) -> bool:
    """Only strings, safe integers, booleans, null, lists and string-keyed objects."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is dict:
            if any(type(key) is not str for key in item):
                return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_SAFE_INTEGER < item < _SAFE_INTEGER:
                return False
        else:
            return False  # floats above all: their JCS form is ECMAScript's, not Python's
    return True


def jcs(value: Any) -> bytes:
    """The RFC 8785 canonical JSON bytes of `value`; FrameInvalid if it is not I-JSON.

    For values made only of strings below U+D800, safe integers, booleans and
    null, which is every frame and result the service builds, the standard
    library's sorted, compact JSON is byte for byte the JCS form and three times
    faster than the reference implementation, which handles everything else.
    """
    if _plain(value):
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        if not _ORDER_MAY_DIFFER.search(text):
            return text.encode("utf-8")
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        # Lone surrogates, NaN, integers beyond 2**53, non-string keys: no two
        # implementations would agree on such bytes, so nothing is committed.
        raise FrameInvalid("not_json", "", f"not canonical JSON: {exc}") from exc


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of `data`."""
    return hashlib.sha256(data).hexdigest()


def frame_hash(frame: Mapping[str, Any]) -> str:
    """The frame's commitment: SHA-256 of its JCS bytes (spec section 3)."""
    return sha256_hex(jcs(frame))


def result_hash(result: Mapping[str, Any]) -> str:
    """The result's hash: SHA-256 of its JCS bytes (spec section 8)."""
    return sha256_hex(jcs(result))
