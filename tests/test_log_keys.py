"""The log key's rotation: the new key signs alongside the old, both are published,
the standalone verifier and Go's note.Open accept either, and finishing retires the old
key without orphaning the checkpoints it signed."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.draws import service, templates
from app.ledger import store
from app.ledger.audit import audit
from app.ledger.checkpoint import generate_signer
from app.ledger.guard import open_signer
from app.ledger.origin import LOCAL_ORIGIN
from app.main import create_app
from app.pools.demo_load import load_demo_pool
from tests.factories import WITNESSES, freeze_with_dice, reveal_at_console
from tests.test_concurrency import ROOT
from tests.test_go_interop import _go, export_tiles, go_interop  # noqa: F401  (the fixture)

VERIFY = ROOT / "verifier" / "verify.py"


@pytest.fixture
def cli_env(
    db_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", LOCAL_ORIGIN)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _grow(factory: sessionmaker[Session], settings: Settings, tag: str) -> str:
    """One more entry, signed by the service as it is now configured; the served note."""
    with factory() as session:
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "tag": tag})
        session.commit()
    with TestClient(create_app(settings)) as c:
        note = c.get("/api/v1/log/checkpoint")
        assert note.status_code == 200, note.text
        return note.text


def _keys(settings: Settings) -> list[str]:
    with TestClient(create_app(settings)) as c:
        return c.get("/api/v1/log/key").text.splitlines()


def _signatures(note: str) -> int:
    return len(note.split("\n\n", 1)[1].splitlines())


def _draw(factory: sessionmaker[Session]) -> str:
    """A finished draw on the demo pool (its proof carries the latest checkpoint)."""
    with factory() as session:
        load_demo_pool(session)
        plan = service.create_plan(
            session, data=templates.TEMPLATES["2025-training"], actor="测试", template_key="x"
        )
        draw = freeze_with_dice(session, plan, WITNESSES)
        public_id = reveal_at_console(session, draw.public_id, "2" * 20, WITNESSES).public_id
        session.commit()
    return public_id


def _verify_proof(
    settings: Settings, tmp_path: Path, public_id: str, *keys: str
) -> subprocess.CompletedProcess[str]:
    """verify.py on the draw's tlog-proof, which carries the latest served checkpoint."""
    with TestClient(create_app(settings)) as c:
        answer = c.get(f"/api/v1/draws/{public_id}/proof.tlog-proof")
    assert answer.status_code == 200, answer.text
    path = tmp_path / "entry.tlog-proof"
    path.write_bytes(answer.content)
    args = [sys.executable, str(VERIFY), str(path)]
    for key in keys:
        args += ["--key", key]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_rotation_signs_with_both_keys_then_retires_the_old(
    settings: Settings,
    session_factory: sessionmaker[Session],
    cli_env: CliRunner,
    tmp_path: Path,
    db_url: str,
    go_interop: Path,  # noqa: F811
) -> None:
    drawn = _draw(session_factory)
    first = _grow(session_factory, settings, "before")
    (old,) = _keys(settings)
    assert _signatures(first) == 1

    started = cli_env.invoke(cli, ["log", "rotate-key"])
    assert started.exit_code == 0, started.output
    published = _keys(settings)
    assert published[0] == old and len(published) == 2
    new = published[1]
    assert new != old and new.split("+")[0] == old.split("+")[0]  # one log, two keys
    again = cli_env.invoke(cli, ["log", "rotate-key"])
    assert again.exit_code == 1 and "换钥已在进行中" in again.output

    during = _grow(session_factory, settings, "during")
    assert _signatures(during) == 2
    stranger = generate_signer(LOCAL_ORIGIN)[1]
    for keys in ([old], [new], [old, new]):
        checked = _verify_proof(settings, tmp_path, drawn, *keys)
        assert checked.returncode == 0, (keys, checked.stdout, checked.stderr)
    refused = _verify_proof(settings, tmp_path, drawn, stranger)
    assert refused.returncode != 0, refused.stdout

    # Go's note.Open, with either key alone, on the exported tiles.
    mirror = tmp_path / "mirror"
    export_tiles(db_url, settings.data_dir, mirror)
    size = int(during.split("\n")[1])
    for key in (old, new):
        assert f"tiles ok: {size} entries" in _go(go_interop, "-key", key, "-tiles", str(mirror))

    finished = cli_env.invoke(cli, ["log", "rotate-key", "--finish"])
    assert finished.exit_code == 0, finished.output
    assert _keys(settings) == [new]
    assert (settings.data_dir / "log-verifier.retired").read_text().split() == [old]
    after = _grow(session_factory, settings, "after")
    assert _signatures(after) == 1
    assert _verify_proof(settings, tmp_path, drawn, new).returncode == 0
    assert (
        _verify_proof(settings, tmp_path, drawn, old).returncode != 0
    )  # the old key signs no more

    # Every checkpoint, the old key's included, still verifies; the kept one too.
    signer = open_signer(settings.data_dir, LOCAL_ORIGIN, session_factory)
    assert signer.published_keys == [new] and signer.retired == (old,)
    with session_factory() as session:
        report = audit(session, signer.known_keys)
        assert report.ok and report.checkpoints == 3 and report.draws == 1, report.problems
        assert store.check_guard(session, signer.guard) is None
    record = (settings.data_dir / "log-guard.log").read_text()
    assert "rotate-key" in record and "rotate-key --finish" in record


def test_finishing_without_a_rotation_is_refused(
    settings: Settings, session_factory: sessionmaker[Session], cli_env: CliRunner
) -> None:
    _grow(session_factory, settings, "one")
    refused = cli_env.invoke(cli, ["log", "rotate-key", "--finish"])
    assert refused.exit_code == 1 and "没有进行中的换钥" in refused.output
    assert len(_keys(settings)) == 1
