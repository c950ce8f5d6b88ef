"""The issue's insider, tried for real: a restored database, a forked log, a deleted key.

The service runs as `uvicorn app.asgi:app` (tests/test_concurrency.py), a DBA
copies and restores the whole database between runs, and the service must
refuse to become ready, to freeze and to sign, naming what it found; the
operator's recoveries (trust-checkpoint, clear-alarm) are driven through the CLI.
"""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.draws import service, templates
from app.draws.models import Draw
from app.ledger import store
from app.ledger.checkpoint import generate_signer, sign_note
from app.ledger.guard import open_signer
from app.ledger.kept import LogGuardRefused
from app.ledger.keys import KeyFileError
from app.ledger.origin import LOCAL_ORIGIN
from app.ledger.witness_worker import Witnessing
from app.ledger.witnessing import load_policy
from app.main import create_app
from tests.factories import WITNESSES, ceremony_time, freeze_with_dice, reveal_at_console
from tests.factories import reveal_dice as reveal_over_http
from tests.test_concurrency import ROOT, Server, prepare_service, service_env, start_server
from tests.test_witnessing import Running, _policy, _snapshot, _start

KEPT = "log-checkpoint.latest"


@pytest.fixture
def data_dir(settings: Settings) -> Path:
    return settings.data_dir


@pytest.fixture
def cli_env(db_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", LOCAL_ORIGIN)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _digits(tag: str) -> str:
    return hashlib.sha256(tag.encode()).hexdigest().translate(str.maketrans("abcdef", "012345"))


def _freeze(api: httpx.Client, template: str) -> httpx.Response:
    plan = api.post(f"/api/v1/plans/from-template/{template}")
    assert plan.status_code == 201, plan.text
    body = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    return api.post(f"/api/v1/plans/{plan.json()['id']}/freeze", json=body)


def _ceremony(api: httpx.Client, keys: dict[str, str], template: str) -> str:
    frozen = _freeze(api, template)
    assert frozen.status_code == 201, frozen.text
    public_id: str = frozen.json()["public_id"]
    done = reveal_over_http(api, public_id, _digits(template)[:24], WITNESSES, keys["witness"])
    assert done.status_code == 200 and done.json()["status"] == "done", done.text
    return public_id


def _api(server: Server, keys: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=server.base, headers={"X-API-Key": keys["operator"]}, timeout=30)


def _codes(answer: httpx.Response) -> list[str]:
    return [item["code"] for item in answer.json().get("errors", [])]


def _log_size(db_url: str) -> tuple[int, int, int]:
    """(entries, checkpoints, draws) in the database, read directly."""
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        found = (
            store.size(session),
            session.scalar(select(func.count()).select_from(store.Checkpoint)) or 0,
            session.scalar(select(func.count()).select_from(Draw)) or 0,
        )
    engine.dispose()
    return found


def _insider_ceremony(db_url: str, data_dir: Path, template: str) -> None:
    """A ceremony written straight into the database with the log's key, by a build
    that knows nothing of the kept checkpoint (the guard is left out)."""
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    signer = dataclasses.replace(open_signer(data_dir, LOCAL_ORIGIN, factory), guard=None)
    with factory() as session:
        plan = service.create_plan(
            session, data=templates.TEMPLATES[template], actor="内部人员", template_key=template
        )
        draw = freeze_with_dice(session, plan, WITNESSES)
        reveal_at_console(session, draw.public_id, _digits("fork")[:24], WITNESSES)
        session.commit()
    with factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    engine.dispose()


def test_a_restored_database_and_a_forked_log_are_refused_until_an_operator_trusts_one(
    request: pytest.FixtureRequest,
    db_url: str,
    engine: Engine,
    data_dir: Path,
    tmp_path: Path,
    cli_env: CliRunner,
) -> None:
    save, restore = _snapshot(request, db_url, engine, tmp_path)
    keys = prepare_service(db_url, data_dir)
    log = tmp_path / "uvicorn.log"
    server = start_server(db_url, data_dir, log)
    with _api(server, keys) as api:
        _ceremony(api, keys, "2025-hazchem")
        assert api.get("/readyz").status_code == 200
    server.stop()
    at_copy = _log_size(db_url)
    save()  # the insider's copy
    server = start_server(db_url, data_dir, log)
    with _api(server, keys) as api:
        _ceremony(api, keys, "2025-training")
        seen = api.get("/api/v1/log/checkpoint").text
    server.stop()
    published = _log_size(db_url)
    assert published[0] > at_copy[0]
    assert (data_dir / KEPT).read_text() == seen  # kept as it was served (no witnesses here)

    restore()
    assert _log_size(db_url) == at_copy
    kept_before = (data_dir / KEPT).read_bytes()
    server = start_server(db_url, data_dir, log)
    with _api(server, keys) as api:
        ready = api.get("/readyz")
        assert ready.status_code == 503 and "log_rolled_back" in _codes(ready), ready.text
        detail = ready.json()["detail"]
        assert f"大小为 {at_copy[0]}" in detail and f"大小为 {published[0]}" in detail, detail
        assert "docs/log-guard.md" in detail
        refused = _freeze(api, "2024-coal")
        assert (refused.status_code, refused.json()["code"]) == (409, "log_rolled_back")
        assert "回滚" in refused.json()["detail"]
        # Nothing is signed for whoever asks either: the old checkpoint is not re-served.
        assert api.get("/api/v1/log/checkpoint").status_code == 409
    server.stop()
    assert _log_size(db_url) == at_copy  # nothing written
    assert (data_dir / KEPT).read_bytes() == kept_before
    assert "log_rolled_back" in log.read_text(errors="replace")

    # The insider runs a different ceremony on the old copy: as large, another root.
    _insider_ceremony(db_url, data_dir, "2024-training")
    assert _log_size(db_url)[0] >= published[0]
    server = start_server(db_url, data_dir, log)
    with _api(server, keys) as api:
        ready = api.get("/readyz")
        assert ready.status_code == 503 and "log_forked" in _codes(ready), ready.text
        assert _freeze(api, "2024-coal").json()["code"] == "log_forked"

        # The operator who has checked the database pins it; without --yes nothing moves.
        shown = cli_env.invoke(cli, ["log", "trust-checkpoint"])
        assert shown.exit_code == 1 and f"大小 {published[0]}" in shown.output, shown.output
        assert (data_dir / KEPT).read_bytes() == kept_before
        trusted = cli_env.invoke(cli, ["log", "trust-checkpoint", "--yes", "--reason", "核实"])
        assert trusted.exit_code == 0, trusted.output
        assert api.get("/readyz").status_code == 200
        _ceremony(api, keys, "2024-industry")
    server.stop()
    record = (data_dir / "log-guard.log").read_text()
    assert "trust-checkpoint" in record and "核实" in record


def test_a_deleted_key_stops_the_service_and_no_key_is_made(
    db_url: str, data_dir: Path, tmp_path: Path
) -> None:
    keys = prepare_service(db_url, data_dir)
    server = start_server(db_url, data_dir, tmp_path / "uvicorn.log")
    with _api(server, keys) as api:
        _ceremony(api, keys, "2025-hazchem")
    server.stop()
    (data_dir / "log-signer.key").unlink()
    (data_dir / "log-verifier.key").unlink()
    started = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "serve", "--port", "1"],
        cwd=ROOT,
        env=service_env(db_url, data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 2, started.stdout + started.stderr
    assert "没有签名私钥" in started.stderr and "不会新建密钥" in started.stderr
    assert not (data_dir / "log-signer.key").exists()
    # The application itself (uvicorn app.asgi:app without the CLI) refuses too.
    settings = Settings(database_url=db_url, data_dir=data_dir, log_origin=LOCAL_ORIGIN)
    with pytest.raises(KeyFileError, match="不会新建密钥"), TestClient(create_app(settings)):
        pass
    assert sorted(p.name for p in data_dir.iterdir() if "key" in p.name) == []


def test_another_key_in_place_of_the_log_key_stops_the_service(
    db_url: str, data_dir: Path, session_factory: sessionmaker[Session]
) -> None:
    signer = open_signer(data_dir, LOCAL_ORIGIN, session_factory)
    with session_factory() as session:
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z"})
        session.commit()
    with session_factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    other, _ = generate_signer(LOCAL_ORIGIN)
    (data_dir / "log-signer.key").write_text(other + "\n")
    with pytest.raises(KeyFileError, match="不是由本服务的签名密钥签署的"):
        open_signer(data_dir, LOCAL_ORIGIN, session_factory)


def test_a_checkpoint_file_deleted_or_forged_is_named(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with TestClient(create_app(settings)) as c, c.app.state.sessionmaker() as session:
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "n": 1})
        session.commit()  # signed and kept after the commit
        assert c.get("/api/v1/log/checkpoint").text.split("\n")[1] == "1"
    kept = settings.data_dir / KEPT
    good = kept.read_text()
    kept.unlink()
    with TestClient(create_app(settings)) as c:
        assert "log_checkpoint_file_missing" in _codes(c.get("/readyz"))
    kept.write_text(good.replace("\n1\n", "\n2\n", 1))  # the size changed, the signature kept
    with TestClient(create_app(settings)) as c:
        assert "log_checkpoint_file_invalid" in _codes(c.get("/readyz"))
    kept.write_text(good)
    other, _ = generate_signer(LOCAL_ORIGIN)
    foreign = sign_note(good.split("\n\n")[0] + "\n", other)
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
        kept.write_text(foreign)  # while it runs: another key's checkpoint is refused
        assert "log_key_mismatch" in _codes(c.get("/readyz"))
        assert c.get("/api/v1/log/checkpoint").json()["code"] == "log_key_mismatch"
    # At start, a checkpoint signed by another key stops the service.
    with (
        pytest.raises(KeyFileError, match="不是由本服务的签名密钥签署的"),
        TestClient(create_app(settings)),
    ):
        pass


@pytest.fixture
def witness(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[Running]:
    signer = open_signer(settings.data_dir, LOCAL_ORIGIN, session_factory)
    yield from _start(signer, "jw.example/witness")


def test_a_witness_that_saw_more_raises_the_alarm_until_it_is_cleared(
    request: pytest.FixtureRequest,
    db_url: str,
    engine: Engine,
    settings: Settings,
    session_factory: sessionmaker[Session],
    witness: Running,
    tmp_path: Path,
    cli_env: CliRunner,
) -> None:
    # The insider restores the database AND the data directory: only the witness knows.
    save, restore = _snapshot(request, db_url, engine, tmp_path)
    signer = open_signer(settings.data_dir, LOCAL_ORIGIN, session_factory)
    policy = _policy(tmp_path, signer, witness)

    def grow(count: int) -> None:
        with session_factory() as session:
            for i in range(count):
                store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "n": i})
            session.commit()
        with session_factory() as session:
            store.sign_checkpoint(session, signer)
            session.commit()

    def ask() -> str:
        client = Witnessing(
            session_factory, load_policy(policy, signer.published_keys), data_dir=settings.data_dir
        )
        try:
            return client.run_once()[0].status
        finally:
            client.http.close()

    grow(4)
    assert ask() == "cosigned"
    save()
    kept_copy = (settings.data_dir / KEPT).read_bytes()
    grow(3)
    assert ask() == "cosigned"
    restore()
    (settings.data_dir / KEPT).write_bytes(kept_copy)
    assert ask() == "ahead"
    alarm = settings.data_dir / "log-alarm.txt"
    assert "大小为 7" in alarm.read_text() and "回滚" in alarm.read_text()
    with TestClient(create_app(settings)) as c:
        ready = c.get("/readyz")
        assert "log_alarm" in _codes(ready), ready.text
        refused = c.get("/api/v1/log/checkpoint")
        assert (refused.status_code, refused.json()["code"]) == (409, "log_alarm")
    with session_factory() as session, pytest.raises(LogGuardRefused) as stopped:
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z"})
        store.sign_checkpoint(session, signer)
    assert stopped.value.code == "log_alarm"
    cleared = cli_env.invoke(cli, ["log", "clear-alarm", "--reason", "经核实：测试中恢复的副本"])
    assert cleared.exit_code == 0, cleared.output
    assert not alarm.exists()
    assert "clear-alarm" in (settings.data_dir / "log-guard.log").read_text()
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200


def test_the_api_document_lists_the_refusals(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    codes = {
        "log_rolled_back",
        "log_forked",
        "log_checkpoint_file_missing",
        "log_checkpoint_file_invalid",
        "log_key_mismatch",
        "log_alarm",
    }
    for path, method in (
        ("/api/v1/plans/{plan_id}/freeze", "post"),
        ("/api/v1/log/checkpoint", "get"),
    ):
        listed = set(paths[path][method]["responses"]["409"]["x-error-codes"])
        assert codes <= listed, (path, codes - listed)


def test_the_empty_logs_checkpoint_is_kept_too(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    # A client that read the checkpoint of the empty log saw a signed statement too.
    with TestClient(create_app(settings)) as c:
        empty = c.get("/api/v1/log/checkpoint")
        assert empty.status_code == 200 and "\n0\n" in empty.text
    assert (settings.data_dir / KEPT).read_text() == empty.text
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
