"""The auditor's verifier, run as an auditor runs it: a copy of verify.py in a
directory without the project, on the spec's vectors and on the service's bundles."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo_load import load_demo_pool
from tests.auditor import copy_verifier
from tests.factories import ceremony_time, reveal_dice
from tests.test_algorithm_vectors import VECTORS_DIR

ROOT = Path(__file__).resolve().parents[1]
WITNESSES = ["甲见证人（纪检监察组）", "乙见证人（公证处）"]


def _verify(tmp_path: Path, bundle: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    auditor = tmp_path / "auditor"
    auditor.mkdir(exist_ok=True)
    copy_verifier(auditor)
    path = auditor / "bundle.json"
    path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "verify.py", "bundle.json", *args],
        cwd=auditor,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )


@pytest.mark.parametrize("path", sorted(VECTORS_DIR.glob("*.json")), ids=lambda p: p.stem)
def test_every_vector_through_the_standalone_verifier(tmp_path: Path, path: Path) -> None:
    vector = json.loads(path.read_text())
    if vector.get("error") == "infeasible":
        frame_hash = hashlib.sha256(rfc8785.dumps(vector["frame"])).hexdigest()
        seed = f"{vector['seed_source']}/{vector['seed_value']}/{frame_hash}"
        result = _verify(
            tmp_path, {"frame": vector["frame"], "seed": seed, "result": None}, "--draw-only"
        )
        assert result.returncode == 1, result.stdout
        assert "✗ 框架合规" in result.stdout
        return
    bundle = {
        "frame": vector["frame"],
        "seed": vector["seed"],
        "result": vector["result"],
        "frame_hash": vector["frame_hash"],
        "result_hash": vector["result_hash"],
    }
    result = _verify(tmp_path, bundle, "--draw-only")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "通过 / PASSED" in result.stdout


def _bundle(
    client: TestClient, factory: sessionmaker[Session], template: str
) -> tuple[dict[str, Any], str]:
    with factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post(f"/api/v1/plans/from-template/{template}").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    reveal_dice(client, frozen["public_id"], "38274619283746529183", WITNESSES)
    bundle: dict[str, Any] = client.get(f"/api/v1/draws/{frozen['public_id']}/bundle").json()
    return bundle, client.get("/api/v1/log/key").text.strip()


@pytest.mark.parametrize("template", ["2024-hazchem", "2025-hazchem-cross"])
def test_service_bundles_verify_with_the_pinned_key(
    client: TestClient, session_factory: sessionmaker[Session], tmp_path: Path, template: str
) -> None:
    bundle, key = _bundle(client, session_factory, template)
    result = _verify(tmp_path, bundle, "--key", key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✗" not in result.stdout
    assert "未独立指定" not in result.stdout


def _flip_proof(bundle: dict[str, Any]) -> None:
    proof = bundle["log"]["entries"][1]["inclusion_proof"]
    raw = bytearray(base64.b64decode(proof[0]))
    raw[0] ^= 1
    proof[0] = base64.b64encode(bytes(raw)).decode()


def test_tampered_bundles_fail_with_the_reason(
    client: TestClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    bundle, key = _bundle(client, session_factory, "2024-hazchem")
    other_key = key.split("+")[0] + "+00000000+" + key.split("+")[2]

    def result_byte(b: dict[str, Any]) -> None:
        selected = b["result"]["strata"][0]["selected"][0]
        selected["key"] = selected["key"][:-1] + ("A" if selected["key"][-1] != "A" else "B")

    def frame_unit(b: dict[str, Any]) -> None:
        b["frame"]["strata"][2]["units"].pop()

    def seed_digit(b: dict[str, Any]) -> None:
        b["seed"] = b["seed"].replace("dice/3", "dice/4", 1)

    cases = [
        (result_byte, "✗ 重算结果与公布结果一致"),
        (frame_unit, "✗ 框架哈希一致"),
        (seed_digit, "✗ 承诺先于种子记入日志"),
        (_flip_proof, "日志条目在检查点中"),
    ]
    for tamper, reason in cases:
        tampered = copy.deepcopy(bundle)
        tamper(tampered)
        result = _verify(tmp_path, tampered, "--key", key)
        assert result.returncode == 1, (tamper.__name__, result.stdout)
        assert reason in result.stdout, (tamper.__name__, result.stdout)
        assert "✗" in result.stdout
    wrong_key = _verify(tmp_path, bundle, "--key", other_key)
    assert wrong_key.returncode == 1
    assert "✗ 检查点签名有效" in wrong_key.stdout
    unreadable = _verify(tmp_path, {"no": "frame"})
    assert unreadable.returncode == 2
