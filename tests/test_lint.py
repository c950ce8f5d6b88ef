"""The house rules: ruff and mypy --strict pass on the whole code base."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict() -> None:
    result = _run(str(BIN / "mypy"), "--no-error-summary")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_verifier_is_strictly_typed_and_stands_alone() -> None:
    result = _run(str(BIN / "mypy"), "--strict", "--no-error-summary", "verifier/verify.py")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in (ROOT / "verifier").rglob("*.py"):
        source = path.read_text()
        assert "from app" not in source and "import app" not in source, path
