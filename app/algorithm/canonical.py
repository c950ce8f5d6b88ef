"""Hashes of frames and results: SHA-256 of their RFC 8785 (JCS) bytes.

>>> jcs({"b": [1, "二"], "a": None})
b'{"a":null,"b":[1,"\\xe4\\xba\\x8c"]}'
>>> sha256_hex(b"abc")[:16]
'ba7816bf8f01cfea'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import rfc8785

from app.algorithm.errors import FrameInvalid


def jcs(value: Any) -> bytes:
    """The RFC 8785 canonical JSON bytes of `value`; FrameInvalid if it is not I-JSON."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
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
