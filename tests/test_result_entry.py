"""Every log entry fits an entry bundle (65,535 bytes); a result too large to name
who was drawn is logged as its hash and counts, and the verifier accepts only that."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
import rfc8785
from sqlalchemy.orm import Session, sessionmaker

from app.draws.result_entry import result_entry
from app.ledger import store
from tests.auditor import load_verifier

AT = "2025-06-01T00:00:00Z"


def _result(units: int) -> dict[str, Any]:
    """A result of `units` drawn across two strata, keys shaped as USCCs."""
    keys = [f"91430400MA4L{i:06d}" for i in range(units)]
    half = units // 2
    return {
        "strata": [
            {"id": "hazchem", "selected": [{"key": k} for k in keys[:half]]},
            {"id": "mines", "selected": [{"key": k} for k in keys[half:]]},
        ],
        "assignments": [{"team": 1, "units": keys[:2]}],
        "pairs": [],
    }


def _hash(result: dict[str, Any]) -> str:
    return hashlib.sha256(rfc8785.dumps(result)).hexdigest()


def test_a_small_result_names_every_unit() -> None:
    result = _result(10)
    entry = result_entry("HY-2025-0001", AT, result, _hash(result))
    assert entry["selected"]["mines"] == [f"91430400MA4L{i:06d}" for i in range(5, 10)]
    assert "counts" not in entry


def test_a_result_too_large_is_logged_as_hash_and_counts() -> None:
    result = _result(4000)  # 4000 keys of 18 characters, quoted: more than 65,535 bytes
    assert len(rfc8785.dumps(result)) > 65535
    entry = result_entry("HY-2025-0001", AT, result, _hash(result))
    assert entry == {
        "kind": "result",
        "at": AT,
        "draw": "HY-2025-0001",
        "result_hash": _hash(result),
        "counts": {"hazchem": 2000, "mines": 2000},
    }
    assert len(rfc8785.dumps(entry)) <= 65535


def _verify_entry(entry: dict[str, Any], result: dict[str, Any]) -> bool:
    """verifier/verify.py's check of a result entry against the bundle's result."""
    verifier = load_verifier()
    report = verifier.Report()
    verifier.check_result_entry(report, entry, result)
    return bool(report.ok)


def test_the_verifier_accepts_the_large_form_only_for_a_large_result() -> None:
    big, small = _result(4000), _result(10)
    compact = result_entry("HY-1", AT, big, _hash(big))
    assert _verify_entry(compact, big)
    full = result_entry("HY-1", AT, small, _hash(small))
    assert _verify_entry(full, small)
    # An insider logging only counts for a result that fits would hide who was drawn.
    hidden = result_entry("HY-1", AT, small, _hash(small), limit=100)
    assert "counts" in hidden
    assert not _verify_entry(hidden, small)
    # Wrong counts, an extra field, or names that differ from the result.
    wrong = json.loads(json.dumps(compact))
    wrong["counts"]["mines"] = 1999
    assert not _verify_entry(wrong, big)
    assert not _verify_entry(compact | {"note": "x"}, big)
    other = json.loads(json.dumps(full))
    other["selected"]["mines"][0] = "91430400MA4L999999"
    assert not _verify_entry(other, small)
    assert not _verify_entry(full | {"pairs": [["a", "b"]]}, small)


def test_the_log_refuses_an_entry_larger_than_a_bundle_holds(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        fits = {"kind": "inspection", "at": AT, "note": ""}
        fits["note"] = "x" * (65535 - len(rfc8785.dumps(fits)))
        assert len(rfc8785.dumps(fits)) == 65535
        assert store.append(session, fits) == 0
        with pytest.raises(store.LogEntryTooLarge) as refused:
            store.append(session, fits | {"note": fits["note"] + "x"})
        assert refused.value.status == 422 and "65535" in refused.value.detail
        assert store.size(session) == 1
        session.commit()
