"""An auditor's pass over every draw a test made: the standalone verifier on each
bundle (with its result's tlog-proof), and every count stratum re-derived with PyPI
consistent_sampler."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import shutil
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import consistent_sampler
import httpx

VERIFIER = Path(__file__).resolve().parents[1] / "verifier" / "verify.py"


def copy_verifier(folder: Path) -> Path:
    """The verifier as an auditor downloads it: verify.py and its package, nothing else."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(VERIFIER, folder / "verify.py")
    shutil.copytree(
        VERIFIER.parent / "shuangsui_verify",
        folder / "shuangsui_verify",
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    return folder / "verify.py"


def load_verifier() -> ModuleType:
    """verifier/verify.py as auditors run it: loaded from its file, not from app/."""
    spec = importlib.util.spec_from_file_location("standalone_verify", VERIFIER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _draws(client: httpx.Client) -> list[dict[str, Any]]:
    draws: list[dict[str, Any]] = []
    page = 1
    while True:
        listed = client.get("/api/v1/draws", params={"page": page, "page_size": 500})
        assert listed.status_code == 200, listed.text
        draws += listed.json()["items"]
        if len(draws) >= listed.json()["total"]:
            return draws
        page += 1


def verify_every_draw(client: httpx.Client) -> int:
    """Verify each seeded draw as an auditor would; return how many were checked."""
    verifier = load_verifier()
    key = client.get("/api/v1/log/key").text.strip()
    # --log reads the log through the verifier's own code; only the transport is the client's.
    base = "http://auditor.invalid"
    verifier.fetch = lambda url: client.get(url.removeprefix(base)).content
    checked = 0
    for draw in _draws(client):
        if draw["seed"] is None:
            continue
        bundle = client.get(f"/api/v1/draws/{draw['public_id']}/bundle").json()
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bundle.json"
            path.write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
            args = [str(path), "--key", key, "--log", base]
            if bundle["result"] is not None:  # the result entry's tlog-proof, checked beside it
                proof = Path(folder) / "result.tlog-proof"
                proof.write_text(client.get(f"/api/v1/draws/{draw['public_id']}/proof").text)
                args += ["--proof", str(proof)]
            said = io.StringIO()
            with contextlib.redirect_stdout(said):
                code = verifier.main(args)
        stands = bundle["status"] == "done"
        assert code == (0 if stands else 3), (
            f"{draw['public_id']} ({bundle['status']}) answers {code}:\n{said.getvalue()}"
        )
        if bundle["result"] is not None:
            for stratum, chosen in zip(
                bundle["frame"]["strata"], bundle["result"]["strata"], strict=True
            ):
                if "count" not in stratum:
                    continue
                ids = [u["key"] for u in stratum["units"]]
                expected = consistent_sampler.sampler(
                    ids, seed=bundle["seed"], take=stratum["count"], output="id"
                )
                assert [u["key"] for u in chosen["selected"]] == list(expected), (
                    draw["public_id"],
                    stratum["id"],
                )
        checked += 1
    return checked
