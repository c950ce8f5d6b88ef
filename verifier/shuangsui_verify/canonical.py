"""Canonical JSON (RFC 8785) for the objects draws and logs use, and SHA-256."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def jcs(value: Any) -> bytes:
    """RFC 8785 bytes: keys sorted by UTF-16 code units, no spaces, integers only."""
    return _jcs(value).encode("utf-8")


def _jcs(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("floats do not occur in draws or log entries")
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ",".join(_jcs(v) for v in value) + "]"
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{_jcs(k)}:{_jcs(value[k])}" for k in keys) + "}"
    raise ValueError(f"not JSON: {value!r}")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
