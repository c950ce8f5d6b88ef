"""The witness client against a witness that shares no code with the service
(tests/independent_witness: stdlib + cryptography, a real HTTP server), on
SQLite and PostgreSQL: cosignatures asked for, checked, stored and served;
the 409 dance; a witness ahead of us raises the rollback alarm; failures back
off; several workers never storm a witness; ceremonies never wait."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.ledger import store, witnessing
from app.ledger.guard import open_signer
from app.ledger.keys import Signer, load_signer
from app.ledger.origin import LOCAL_ORIGIN
from app.ledger.witness_models import Cosignature, WitnessState
from app.ledger.witness_worker import Witnessing
from tests.independent_witness.witness import IndependentWitness, serve

ORIGIN = "witness-test.example/tlog"


@dataclass
class Running:
    witness: IndependentWitness
    url: str


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logdata"
    path.mkdir()
    return path


@pytest.fixture
def signer(log_dir: Path, session_factory: sessionmaker[Session]) -> Signer:
    return open_signer(log_dir, ORIGIN, session_factory)


def _start(signer: Signer, name: str) -> Iterator[Running]:
    witness = IndependentWitness(name, signer.verifier_key)
    server = serve(witness)
    yield Running(witness, f"http://127.0.0.1:{server.server_address[1]}/witness")
    server.shutdown()
    server.server_close()


@pytest.fixture
def one(signer: Signer) -> Iterator[Running]:
    yield from _start(signer, "one.example/witness")


@pytest.fixture
def two(signer: Signer) -> Iterator[Running]:
    yield from _start(signer, "two.example/witness")


def _policy(tmp_path: Path, signer: Signer, *witnesses: Running, quorum: str = "all") -> Path:
    lines = [f"log {signer.verifier_key}"]
    names = []
    for i, running in enumerate(witnesses):
        lines.append(f"witness W{i} {running.witness.vkey} {running.url}")
        names.append(f"W{i}")
    lines.append(f"group G {quorum} {' '.join(names)}")
    lines.append("quorum G")
    path = tmp_path / "policy.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _append(factory: sessionmaker[Session], signer: Signer, count: int, tag: str = "") -> int:
    with factory() as session:
        for i in range(count):
            entry = {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "n": i, "tag": tag}
            store.append(session, entry)
        session.commit()
    with factory() as session:
        size = store.sign_checkpoint(session, signer).size
        session.commit()
    return size


def _client(factory: sessionmaker[Session], path: Path, signer: Signer) -> Witnessing:
    return Witnessing(factory, witnessing.load_policy(path, signer.published_keys))


def _served(factory: sessionmaker[Session], size: int) -> str:
    with factory() as session:
        checkpoint = session.get(store.Checkpoint, size)
        assert checkpoint is not None
        return store.published_note(session, checkpoint)


def _check_cosignature(note: str, witness: IndependentWitness) -> int:
    """The witness's cosignature on a served note, checked from the spec's words alone."""
    body = note[: note.index("\n\n") + 1]
    name, key_id, key_b64 = witness.vkey.split("+", 2)
    public = base64.b64decode(key_b64)[1:]
    for line in note.split("\n\n", 1)[1].splitlines():
        signer_name, blob_b64 = line.removeprefix("\u2014 ").split(" ")
        blob = base64.b64decode(blob_b64)
        if signer_name == name and blob[:4].hex() == key_id:
            (stamp,) = struct.unpack(">Q", blob[4:12])
            message = f"cosignature/v1\ntime {stamp}\n{body}".encode()
            Ed25519PublicKey.from_public_bytes(public).verify(blob[12:], message)
            return int(stamp)
    raise AssertionError(f"no cosignature by {name} on\n{note}")


def test_each_checkpoint_is_cosigned_with_a_consistency_proof(
    session_factory: sessionmaker[Session],
    signer: Signer,
    one: Running,
    two: Running,
    tmp_path: Path,
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one, two), signer)
    assert _append(session_factory, signer, 3) == 3
    outcomes = client.run_once()
    assert [(o.status, o.size) for o in outcomes] == [("cosigned", 3), ("cosigned", 3)]
    # A first request from a witness the client knows nothing of: old size 0, no proof.
    assert one.witness.requests[0].startswith(b"old 0\n\n" + ORIGIN.encode() + b"\n3\n")
    note = _served(session_factory, 3)
    assert abs(_check_cosignature(note, one.witness) - time.time()) < 60
    _check_cosignature(note, two.witness)
    # The log's own signature comes first and is untouched.
    with session_factory() as session:
        assert note.startswith(session.get(store.Checkpoint, 3).note)  # type: ignore[union-attr]

    assert _append(session_factory, signer, 5) == 8
    assert [o.status for o in client.run_once()] == ["cosigned", "cosigned"]
    request = one.witness.requests[-1].decode()
    head = request.split("\n\n")[0].split("\n")
    assert head[0] == "old 3"
    with session_factory() as session:
        expected = [store.b64(h) for h in store.consistency_proof(session, 3, 8)]
    assert head[1:] == expected and len(expected) > 1
    _check_cosignature(_served(session_factory, 8), one.witness)
    # The size-3 checkpoint keeps its cosignatures; nothing new to send.
    _check_cosignature(_served(session_factory, 3), two.witness)
    assert {o.status for o in client.run_once()} == {"current"}
    assert len(one.witness.requests) == 2


def test_a_witness_409_teaches_the_client_its_size(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 4)
    assert client.run_once()[0].status == "cosigned"
    _append(session_factory, signer, 3)
    # The client forgets what it knew (a new database from the same log, say).
    with session_factory() as session:
        session.execute(text("UPDATE log_witness_state SET size = NULL"))
        session.commit()
    outcome = client.run_once()[0]
    assert (outcome.status, outcome.size) == ("cosigned", 7)
    assert [r.split(b"\n")[0] for r in one.witness.requests] == [b"old 0", b"old 0", b"old 4"]


def test_a_witness_ahead_of_us_is_a_rollback_alarm(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 5)
    with session_factory() as session:
        assert witnessing.ahead_of_us(session) is None
    # The witness cosigned size 9 of this log: a checkpoint this database no longer holds.
    one.witness.size, one.witness.root = 9, hashlib.sha256(b"another history").digest()
    outcome = client.run_once()[0]
    assert (outcome.status, outcome.size) == ("ahead", 9)
    with session_factory() as session:
        alarm = witnessing.ahead_of_us(session)
        assert not session.scalars(select(Cosignature)).all()
    assert alarm is not None and "9" in alarm and "5" in alarm and "回滚" in alarm
    assert "见证人“W0”" in alarm


def test_a_witness_that_saw_another_tree_of_our_size_is_a_fork_alarm(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 5)
    assert client.run_once()[0].status == "cosigned"
    # What the witness cosigned at size 5 was another history (the database restored
    # from a copy, then written again): the proof from 5 cannot match its root.
    one.witness.root = hashlib.sha256(b"the history the witness saw").digest()
    _append(session_factory, signer, 2)
    outcome = client.run_once()[0]
    assert outcome.status == "failed" and "422" in outcome.detail
    with session_factory() as session:
        alarm = witnessing.ahead_of_us(session)
    assert alarm is not None and "分叉" in alarm and "大小 5" in alarm


def test_a_starting_process_asks_even_a_current_witness(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    path = _policy(tmp_path, signer, one)
    _append(session_factory, signer, 5)
    assert _client(session_factory, path, signer).run_once()[0].status == "cosigned"
    # Meanwhile the witness cosigned size 12 of this log, which this database never held.
    one.witness.size = 12
    running = _client(session_factory, path, signer)
    assert running.run_once()[0].status == "ahead"  # the first round asks anyway
    with session_factory() as session:
        assert "12" in (witnessing.ahead_of_us(session) or "")
    assert running.run_once()[0].status == "current"  # later rounds only send what is new


def test_a_probe_that_reached_nobody_is_asked_again(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    import socket

    _append(session_factory, signer, 5)
    assert _client(session_factory, _policy(tmp_path, signer, one), signer).run_once()[0].size == 5
    one.witness.size = 12  # it cosigned more of this log than the database holds
    with socket.socket() as probe:  # a port nobody listens on yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    later = Running(one.witness, f"http://127.0.0.1:{port}/witness")
    running = _client(session_factory, _policy(tmp_path, signer, later), signer)
    assert running.run_once()[0].status == "failed"  # down when this process starts
    server = serve(one.witness, port=port)
    try:
        with session_factory() as session:
            session.execute(text("UPDATE log_witness_state SET next_attempt = NULL"))
            session.commit()
        # The probe is still owed: the next round asks although the database says "current".
        assert running.run_once()[0].status == "ahead"
    finally:
        server.shutdown()
        server.server_close()
    with session_factory() as session:
        assert "12" in (witnessing.ahead_of_us(session) or "")


def test_workers_started_together_share_the_probe(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    path = _policy(tmp_path, signer, one)
    _append(session_factory, signer, 5)
    first, second = _client(session_factory, path, signer), _client(session_factory, path, signer)
    assert first.run_once()[0].status == "cosigned"
    assert len(one.witness.requests) == 1
    # The sibling heard from the witness after this process started: it does not ask again.
    assert second.run_once()[0].status == "current"
    assert len(one.witness.requests) == 1
    # A process started before that answer but whose database was put back to an older
    # copy meanwhile does not share it: the restored state's answer is older than it.
    with session_factory() as session:
        session.execute(
            text("UPDATE log_witness_state SET last_ok = :old"),
            {"old": second.started - timedelta(seconds=1)},
        )
        session.commit()
    one.witness.size = 12
    third = Witnessing(
        session_factory,
        witnessing.load_policy(path, signer.published_keys),
        started=second.started,
    )
    assert third.run_once()[0].status == "ahead"
    assert len(one.witness.requests) == 2


def test_a_worker_starts_when_its_process_was_created() -> None:
    from app.ledger.witness_worker import process_started

    started = process_started()
    assert started <= datetime.now(UTC)
    # The test process was created before this test ran, not now.
    assert datetime.now(UTC) - started > timedelta(seconds=1)


def test_a_wrong_cosignature_is_refused_and_retried_later(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 2)
    one.witness.wrong_key = True
    outcome = client.run_once()[0]
    assert outcome.status == "failed" and "无法验证" in outcome.detail
    with session_factory() as session:
        assert not session.scalars(select(Cosignature)).all()
        state = session.scalars(select(WitnessState)).one()
        assert state.failures == 1 and state.next_attempt is not None
        assert state.lease_until is None
    # Backing off: the next round does not ask at all, however often it runs.
    one.witness.wrong_key = False
    asked = len(one.witness.requests)
    assert client.run_once()[0].status == "waiting"
    assert len(one.witness.requests) == asked
    with session_factory() as session:
        session.execute(text("UPDATE log_witness_state SET next_attempt = NULL"))
        session.commit()
    # The witness has meanwhile recorded size 2 (it cosigned with the wrong key): 409, then 200.
    assert client.run_once()[0].status == "cosigned"


def test_a_cosignature_from_the_future_is_not_kept(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 2)
    one.witness.clock_skew = 86400
    outcome = client.run_once()[0]
    assert outcome.status == "failed" and "未来" in outcome.detail
    with session_factory() as session:
        assert not session.scalars(select(Cosignature)).all()


def test_an_unreachable_witness_backs_off(
    session_factory: sessionmaker[Session], signer: Signer, tmp_path: Path, one: Running
) -> None:
    dead = Running(one.witness, "http://127.0.0.1:9/witness")
    client = _client(session_factory, _policy(tmp_path, signer, dead), signer)
    _append(session_factory, signer, 1)
    assert client.run_once()[0].status == "failed"
    assert client.run_once()[0].status == "waiting"
    with session_factory() as session:
        state = session.scalars(select(WitnessState)).one()
        assert "无法连接" in (state.last_error or "")


def test_several_workers_ask_a_witness_once(
    session_factory: sessionmaker[Session], signer: Signer, one: Running, tmp_path: Path
) -> None:
    path = _policy(tmp_path, signer, one)
    workers = [_client(session_factory, path, signer) for _ in range(4)]
    _append(session_factory, signer, 6)
    one.witness.delay = 0.5
    barrier = threading.Barrier(len(workers))
    statuses: list[str] = []

    def work(client: Witnessing) -> None:
        barrier.wait()
        statuses.extend(o.status for o in client.run_once())

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == ["cosigned", "waiting", "waiting", "waiting"]
    assert len(one.witness.requests) == 1


def test_stored_cosignatures_cannot_be_changed(
    engine: Engine,
    session_factory: sessionmaker[Session],
    signer: Signer,
    one: Running,
    tmp_path: Path,
) -> None:
    client = _client(session_factory, _policy(tmp_path, signer, one), signer)
    _append(session_factory, signer, 2)
    client.run_once()
    for statement in ("UPDATE log_cosignatures SET line = 'x'", "DELETE FROM log_cosignatures"):
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))


def test_the_policy_must_name_this_log(signer: Signer, tmp_path: Path, one: Running) -> None:
    other = load_signer(tmp_path, "another.example/tlog", create=True)
    path = _policy(tmp_path, other, one)
    with pytest.raises(witnessing.WitnessPolicyError, match="没有本日志的公钥"):
        witnessing.load_policy(path, signer.published_keys)
    path.write_text("witness W not-a-key http://x\nquorum W\n")
    with pytest.raises(witnessing.WitnessPolicyError, match="策略文件第 1 行"):
        witnessing.load_policy(path, signer.published_keys)


# -- the service: ceremonies never wait, and what it serves carries the cosignatures -----


@pytest.fixture
def settings(
    settings: Settings, log_dir: Path, signer: Signer, one: Running, tmp_path: Path
) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": log_dir,
            "log_origin": ORIGIN,
            "witness_policy": _policy(tmp_path, signer, one),
            "witness_retry_seconds": 0.2,
        }
    )


def test_the_service_serves_cosigned_checkpoints_without_waiting(
    demo,
    one: Running,
    session_factory: sessionmaker[Session],  # type: ignore[no-untyped-def]
) -> None:
    from tests.factories import WITNESSES, ceremony_time, reveal_dice

    one.witness.delay = 1.0  # a slow witness: the ceremony must not wait for it
    plan = demo.post("/api/v1/plans/from-template/2024-hazchem").json()
    started = time.monotonic()
    frozen = demo.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    )
    assert frozen.status_code == 201, frozen.text
    assert time.monotonic() - started < 1.0
    one.witness.delay = 0
    public_id = frozen.json()["public_id"]
    reveal_dice(demo, public_id, "38274619283746529183", WITNESSES)
    size = int(demo.get("/api/v1/log/checkpoint").text.split("\n")[1])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        note = demo.get("/api/v1/log/checkpoint").text
        if one.witness.name in note:
            break
        time.sleep(0.1)
    _check_cosignature(note, one.witness)
    assert int(note.split("\n")[1]) == size
    bundle = demo.get(f"/api/v1/draws/{public_id}/bundle").json()
    listed = bundle["log"]["cosignatures"]
    assert [c["witness"] for c in listed] == [one.witness.name]
    assert listed[0]["key_id"] == one.witness.key_id.hex()
    _check_cosignature(bundle["log"]["checkpoint"], one.witness)
    with httpx.Client() as http:  # the witness agrees on what it saw last
        assert one.witness.size == size
        assert http.post(one.url + "/add-checkpoint", content=b"garbage").status_code == 400


@pytest.mark.postgres
def test_three_workers_ask_the_witness_once_per_checkpoint(
    pg_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from tests.factories import WITNESSES, ceremony_time
    from tests.test_concurrency import prepare_service, start_server

    keys = prepare_service(pg_db_url, tmp_path)
    engine = make_engine(pg_db_url)
    signer = open_signer(tmp_path, LOCAL_ORIGIN, make_sessionmaker(engine))
    engine.dispose()
    runs = _start(signer, "three.example/witness")
    running = next(runs)
    running.witness.delay = 0.2
    monkeypatch.setenv("SHUANGSUI_WITNESS_POLICY", str(_policy(tmp_path, signer, running)))
    monkeypatch.setenv("SHUANGSUI_WITNESS_RETRY_SECONDS", "0.5")
    server = start_server(pg_db_url, tmp_path, tmp_path / "uvicorn.log", workers=3)
    templates = ["2024-hazchem", "2025-hazchem-cross", "2025-noncoal-q4", "2025-industry-q2"]
    body = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    try:

        def freeze(template: str) -> int:
            with httpx.Client(
                base_url=server.base, headers={"X-API-Key": keys["operator"]}, timeout=30
            ) as api:
                plan = api.post(f"/api/v1/plans/from-template/{template}").json()
                return api.post(f"/api/v1/plans/{plan['id']}/freeze", json=body).status_code

        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(freeze, templates)) == [201] * 4
        size = int(httpx.get(server.base + "/api/v1/log/checkpoint").text.split("\n")[1])
        deadline = time.monotonic() + 30
        note = ""
        while time.monotonic() < deadline and running.witness.name not in note:
            time.sleep(0.2)
            note = httpx.get(server.base + "/api/v1/log/checkpoint").text
    finally:
        server.stop()
        next(runs, None)
    _check_cosignature(note, running.witness)
    sent = Counter(int(r.split(b"\n\n")[1].split(b"\n")[1]) for r in running.witness.requests)
    assert sent and max(sent.values()) == 1, sent
    assert max(sent) == size


# -- the insider: copy the database, run on, put the old copy back -------------


def _snapshot(request: pytest.FixtureRequest, db_url: str, engine: Engine, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(save, restore): a copy of the whole database, and putting it back, as a DBA would."""
    from sqlalchemy.engine import make_url

    from tests.conftest import _admin_execute

    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        live, copy = Path(str(url.database)), tmp_path / "backup.sqlite3"

        def save() -> None:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            copy.write_bytes(live.read_bytes())

        def restore() -> None:
            engine.dispose()
            for extra in ("-wal", "-shm"):
                Path(str(live) + extra).unlink(missing_ok=True)
            live.write_bytes(copy.read_bytes())

        return save, restore
    admin = request.getfixturevalue("pg_admin_url")
    name = url.database

    def pg_save() -> None:
        engine.dispose()
        _admin_execute(admin, f"CREATE DATABASE {name}_copy TEMPLATE {name}")

    def pg_restore() -> None:
        engine.dispose()
        _admin_execute(
            admin,
            f"DROP DATABASE {name} WITH (FORCE)",
            f"CREATE DATABASE {name} TEMPLATE {name}_copy",
            f"DROP DATABASE {name}_copy",
        )

    return pg_save, pg_restore


@pytest.mark.parametrize("written_again", [False, True])
def test_a_restored_database_is_caught_by_the_witness(
    request: pytest.FixtureRequest,
    db_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
    signer: Signer,
    one: Running,
    tmp_path: Path,
    written_again: bool,
) -> None:
    save, restore = _snapshot(request, db_url, engine, tmp_path)
    path = _policy(tmp_path, signer, one)
    _append(session_factory, signer, 14)
    assert _client(session_factory, path, signer).run_once()[0].status == "cosigned"
    save()
    _append(session_factory, signer, 3)
    assert _client(session_factory, path, signer).run_once()[0].size == 17
    restore()
    with session_factory() as session:
        assert store.size(session) == 14 and witnessing.ahead_of_us(session) is None
    if written_again:
        # A different ceremony runs before the service asks anyone, written by an
        # insider who has the key but not the data directory's kept checkpoint (which
        # refuses it: tests/test_log_guard.py): the witness is the second line.
        unguarded = dataclasses.replace(signer, guard=None)
        _append(session_factory, unguarded, 3, tag="another ceremony")
    outcome = _client(session_factory, path, signer).run_once()[0]
    with session_factory() as session:
        alarm = witnessing.ahead_of_us(session)
        kept = session.scalars(select(Cosignature.size)).all()
    assert alarm is not None, outcome
    assert ("分叉" if written_again else "回滚") in alarm
    assert 17 not in kept  # nothing the witness says about the other history is stored
