"""A client generated from the live OpenAPI document by a real generator
(openapi-python-client, pinned in tests/client/requirements.txt), installed
into a fresh virtual environment, runs a whole ceremony against the service
under uvicorn: directories read, plan from template, freeze, dice digits, a
witness's mismatching entry read as a typed 409 seed_mismatch, confirmation,
bundle, and the Chinese name of the person acting in the history."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import test_browser

ROOT = test_browser.ROOT
live_server = test_browser.live_server  # the service under uvicorn, as a fixture here

CLIENT_DIR = Path(__file__).parent / "client"
REQUIREMENTS = CLIENT_DIR / "requirements.txt"


def _run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=600, env=env, check=False
    )
    assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def _venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=True, clear=True).create(path)
    return path / "bin"


@pytest.fixture(scope="session")
def generator() -> Path:
    """openapi-python-client in an environment of its own, kept between runs."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    home = ROOT / ".venv" / f"client-generator-{digest}"
    if not (home / "bin" / "openapi-python-client").exists():
        bin_dir = _venv(home)
        _run(bin_dir / "pip", "install", "--quiet", "-r", REQUIREMENTS)
    return home / "bin"


@pytest.fixture
def client_python(
    generator: Path, live_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """A fresh environment with the client generated from the live document."""
    work = tmp_path_factory.mktemp("generated-client")
    document = httpx.get(f"{live_server}/openapi.json", timeout=30)
    assert document.status_code == 200
    (work / "openapi.json").write_bytes(document.content)
    # The generator formats its output with ruff, which it installs beside itself.
    env = os.environ | {"PATH": f"{generator}{os.pathsep}{os.environ.get('PATH', '')}"}
    output = _run(
        generator / "openapi-python-client",
        "generate",
        "--path",
        work / "openapi.json",
        "--output-path",
        work / "client",
        "--meta",
        "setup",
        "--config",
        CLIENT_DIR / "config.yml",
        env=env,
    )
    assert "WARNING" not in output and "Error" not in output, output
    bin_dir = _venv(work / "env")
    _run(bin_dir / "pip", "install", "--quiet", work / "client")
    yield bin_dir / "python"


# The client is the subject here, not the database: one backend is enough.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_generated_client_runs_a_whole_ceremony(
    client_python: Path, live_server: str, api_keys: dict[str, str]
) -> None:
    env = {
        "BASE": live_server,
        "OPERATOR": api_keys["operator"],
        "WITNESS": api_keys["witness"],
        "PATH": os.environ.get("PATH", ""),
    }
    # Run outside the repository, so that only the installed client is importable.
    output = _run(client_python, "-I", CLIENT_DIR / "ceremony.py", env=env)
    result = json.loads(output.strip().splitlines()[-1])
    assert result["counties"] == 14
    assert all(total > 0 for total in result["directories"])
    assert result["mismatch"] == [409, 409, "seed_mismatch"]
    assert result["status"] == "done"
    assert result["seed"].startswith("dice/38274619283746529183/")
    assert {"announcement", "frame_hash", "result"} <= set(result["bundle_keys"])
    # The bundle's parts came as typed classes: what they held is what the service serves.
    assert result["confirmed_by"].startswith("李公证")
    bundle = httpx.get(f"{live_server}/api/v1/draws/{result['public_id']}/bundle", timeout=30)
    served = bundle.json()
    assert result["selected"] == [
        u["key"] for s in served["result"]["strata"] for u in s["selected"]
    ]
    assert result["tickets"] == [
        u["ticket"] for s in served["result"]["strata"] for u in s["selected"]
    ]
    assert result["frame_units"] == sum(len(s["units"]) for s in served["frame"]["strata"])
    assert result["selected"] and result["frame_units"] > len(result["selected"])
    assert result["log_kinds"] == ["commitment", "seed", "result"]
    assert result["bundle_status"] == "done"
    assert result["announced_witnesses"] == ["王见证（纪检监察组）", "李公证（公证处）"]
    assert result["probabilities"] and all("/" in p for p in result["probabilities"])
    assert result["entry"] == ["result", True, served["log"]["tree_size"]]
    assert result["consistency_root"] is True
    assert any(actor.startswith("张三（") for actor in result["plan_actors"]), result
    # The same draw read back without the client: what the client saw is what is stored.
    draw = httpx.get(f"{live_server}/api/v1/draws/{result['public_id']}", timeout=30).json()
    assert draw["seed"] == result["seed"]
