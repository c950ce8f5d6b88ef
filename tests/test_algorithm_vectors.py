"""The spec's conformance vectors, byte for byte (shared/spec/vectors/*.json)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from consistent_sampler import sampler

from app.algorithm import (
    QuotaInfeasible,
    check_frame,
    draw,
    frame_hash,
    jcs,
    make_seed,
    result_hash,
    ticket,
)

# shared/ sits beside the repository (as CI clones it); SHUANGSUI_SPEC_DIR
# may point at the spec directory or straight at its vectors/.
SPEC_DIR = Path(
    os.environ.get("SHUANGSUI_SPEC_DIR")
    or Path(__file__).resolve().parents[1].parent / "shared" / "spec"
)
VECTORS_DIR = SPEC_DIR / "vectors" if (SPEC_DIR / "vectors").is_dir() else SPEC_DIR
VECTOR_FILES = sorted(VECTORS_DIR.glob("*.json")) if VECTORS_DIR.is_dir() else []


def load(path: Path) -> dict[str, Any]:
    """One vector file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_vectors_are_present() -> None:
    # A missing directory must fail the suite, never skip it: conformance is
    # the point of the algorithm package.
    assert VECTORS_DIR.is_dir(), f"spec vectors not found at {VECTORS_DIR} (SHUANGSUI_SPEC_DIR?)"
    assert len(VECTOR_FILES) >= 8, f"expected the spec's 8 vectors, found {len(VECTOR_FILES)}"


def test_spec_worked_ticket_example() -> None:
    assert ticket("01382438112797316654", "AB-130") == (
        "0.26299714122838008416507544297546663599715395525154425586041245287750224561854"
    )


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector(path: Path) -> None:
    vector = load(path)
    frame = vector["frame"]
    if "error" in vector:
        assert vector["error"] == "infeasible"
        with pytest.raises(QuotaInfeasible):
            check_frame(frame)
        seed = make_seed(vector["seed_source"], vector["seed_value"], frame_hash(frame))
        with pytest.raises(QuotaInfeasible):
            draw(frame, seed)
        return
    assert frame_hash(frame) == vector["frame_hash"]
    assert vector["seed"].endswith("/" + vector["frame_hash"])
    check_frame(frame)
    result = draw(frame, vector["seed"])
    assert jcs(result) == jcs(vector["result"])
    assert result_hash(result) == vector["result_hash"]
    assert result_hash(vector["result"]) == vector["result_hash"]


def test_infeasible_vector_names_the_stratum() -> None:
    vector = load(VECTORS_DIR / "07-infeasible.json")
    with pytest.raises(QuotaInfeasible) as caught:
        check_frame(vector["frame"])
    error = caught.value
    assert (error.stratum, error.group, error.available, error.asked) == ("songmu", None, 2, 3)
    assert error.code == "quota_infeasible"


@pytest.mark.parametrize("path", VECTOR_FILES, ids=lambda p: p.stem)
def test_vector_agrees_with_consistent_sampler(path: Path) -> None:
    """The auditor's independent tool reproduces every "take k" of every vector."""
    vector = load(path)
    if "error" in vector:
        return
    seed = vector["seed"]
    for stratum, selected in zip(
        vector["frame"]["strata"], vector["result"]["strata"], strict=True
    ):
        keys = [unit["key"] for unit in stratum["units"]]
        chosen = [unit["key"] for unit in selected["selected"]]
        rule = stratum.get("per_group")
        if rule is None:
            assert list(sampler(keys, seed=seed, take=len(chosen), output="id")) == chosen
            continue
        values = list(dict.fromkeys(unit["attrs"][rule["by"]] for unit in stratum["units"]))
        group_ids = [f"group:{stratum['id']}:{value}" for value in values]
        ranked = list(sampler(group_ids, seed=seed, take=len(selected["groups"]), output="id"))
        assert [gid.split(":", 2)[2] for gid in ranked] == selected["groups"]
        for value in selected["groups"]:
            members = [u["key"] for u in stratum["units"] if u["attrs"][rule["by"]] == value]
            mine = [key for key in chosen if key in members]
            assert list(sampler(members, seed=seed, take=len(mine), output="id")) == mine
