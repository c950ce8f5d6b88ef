"""A draw's `result` log entry, kept within an entry bundle's 65,535 bytes.

The entry names who was drawn (the selected unit keys per stratum, the
assignments and the pairs). When that would not fit in one entry, the entry
carries the result's hash and how many units each stratum drew instead; the
full result is in the draw's bundle, and the verifier checks it against the
hash the log holds.

>>> result = {"strata": [{"id": "s1", "selected": [{"key": "A"}]}], "assignments": [], "pairs": []}
>>> sorted(result_entry("HY-1", "2025-01-01T00:00:00Z", result, "ab"))
['assignments', 'at', 'draw', 'kind', 'pairs', 'result_hash', 'selected']
>>> compact = result_entry("HY-1", "2025-01-01T00:00:00Z", result, "ab", limit=80)
>>> compact["counts"], "selected" in compact
({'s1': 1}, False)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.ledger.kinds import EntryKind
from app.ledger.store import entry_bytes
from app.ledger.tiles import MAX_ENTRY_BYTES


def result_entry(
    public_id: str,
    at: str,
    result: Mapping[str, Any],
    result_hash: str,
    *,
    limit: int = MAX_ENTRY_BYTES,
) -> dict[str, Any]:
    """The `result` entry: in full if it fits in `limit` bytes, else hash and counts."""
    head = {"kind": EntryKind.RESULT, "at": at, "draw": public_id, "result_hash": result_hash}
    full = head | {
        "selected": {s["id"]: [u["key"] for u in s["selected"]] for s in result["strata"]},
        "assignments": result["assignments"],
        "pairs": result["pairs"],
    }
    if len(entry_bytes(full)) <= limit:
        return full
    return head | {"counts": {s["id"]: len(s["selected"]) for s in result["strata"]}}
