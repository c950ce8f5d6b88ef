"""The log in the database: append-only by the database's own rules, proofs
that verify, an audit that names the tampered index, and appends from several
processes that never fork or gap the log."""

from __future__ import annotations

import base64
import multiprocessing
import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.ledger import merkle, store
from app.ledger.audit import audit
from app.ledger.checkpoint import open_note, parse_checkpoint
from app.ledger.guard import open_signer


def _append(factory: sessionmaker[Session], count: int, prefix: str = "test") -> None:
    for i in range(count):
        with factory() as session:
            store.append(
                session,
                {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "note": f"{prefix}-{i}"},
            )
            session.commit()


def test_checkpoint_and_proofs_over_the_api(client: TestClient, tmp_path: Path) -> None:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    _append(factory, 5)
    first = client.get("/api/v1/log/checkpoint")
    assert first.headers["content-type"].startswith("text/plain")
    key = client.get("/api/v1/log/key").text.strip()
    body = parse_checkpoint(open_note(first.text, [key]))
    assert (body.origin, body.size) == ("localhost/tlog", 5)
    _append(factory, 6, prefix="more")
    second = parse_checkpoint(open_note(client.get("/api/v1/log/checkpoint").text, [key]))
    assert second.size == 11
    for index in (0, 4, 10):
        data = client.get(f"/api/v1/log/entries/{index}").json()
        assert data["tree_size"] == 11
        leaf = merkle.leaf_hash(base64.b64decode(data["entry_b64"]))
        proof = [base64.b64decode(p) for p in data["inclusion_proof"]]
        assert merkle.verify_inclusion(leaf, index, 11, proof, second.root)
    old = client.get("/api/v1/log/entries/2?tree_size=5").json()
    proof = [base64.b64decode(p) for p in old["inclusion_proof"]]
    leaf = merkle.leaf_hash(base64.b64decode(old["entry_b64"]))
    assert merkle.verify_inclusion(leaf, 2, 5, proof, body.root)
    consistency = client.get("/api/v1/log/proof/consistency?first=5&second=11").json()
    assert merkle.verify_consistency(
        5, 11, [base64.b64decode(p) for p in consistency["proof"]], body.root, second.root
    )
    page = client.get("/api/v1/log/entries?start=3&end=6").json()
    assert [e["index"] for e in page["entries"]] == [3, 4, 5]
    assert page["entries"][0]["entry"]["note"] == "test-3"
    assert client.get("/api/v1/log/entries/99").status_code == 404
    assert client.get("/api/v1/log/entries/1?tree_size=50").status_code == 422


@pytest.mark.parametrize("table", ["log_entries", "log_nodes", "log_checkpoints"])
def test_the_database_refuses_to_change_the_log(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path, table: str
) -> None:
    _append(session_factory, 3)
    signer = open_signer(tmp_path, "hengyang.yjj/draws", session_factory)
    with session_factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    column = {"log_entries": "kind", "log_nodes": "level", "log_checkpoints": "note"}[table]
    value = {"log_entries": "'x'", "log_nodes": "7", "log_checkpoints": "'x'"}[table]
    for statement in (f"UPDATE {table} SET {column} = {value}", f"DELETE FROM {table}"):
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(statement))
            conn.commit()
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn, pytest.raises(DatabaseError, match="append-only"):
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
            conn.commit()
    with session_factory() as session:
        assert store.size(session) == 3


def _drop_triggers(engine: Engine) -> None:
    """What a database administrator with full rights could do."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
            conn.execute(text("ALTER TABLE log_nodes DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER log_entries_no_update"))
            conn.execute(text("DROP TRIGGER log_nodes_no_update"))


def test_audit_names_the_index_of_an_edited_entry(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    signer = open_signer(tmp_path, "hengyang.yjj/draws", session_factory)
    _append(session_factory, 20)
    with session_factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
        report = audit(session, signer.known_keys)
    engine.dispose()
    assert report.ok, report.problems
    assert (report.size, report.checkpoints) == (20, 1)

    _drop_triggers(engine)
    forged = store.entry_bytes(
        {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "note": "forged"}
    )
    with engine.begin() as conn:
        conn.execute(text("UPDATE log_entries SET body = :b WHERE idx = 13"), {"b": forged})
    with session_factory() as session:
        report = audit(session, signer.known_keys)
    assert not report.ok
    assert report.first_bad_index == 13

    # a careful forger also rewrites the leaf hash: the stored tree still betrays index 13
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE log_entries SET leaf_hash = :h WHERE idx = 13"),
            {"h": merkle.leaf_hash(forged)},
        )
    with session_factory() as session:
        report = audit(session, signer.known_keys)
    assert report.first_bad_index == 13


def test_audit_notices_a_missing_entry(
    engine: Engine, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    signer = open_signer(tmp_path, "hengyang.yjj/draws", session_factory)
    _append(session_factory, 8)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("ALTER TABLE log_entries DISABLE TRIGGER USER"))
        else:
            conn.execute(text("DROP TRIGGER log_entries_no_delete"))
        conn.execute(text("DELETE FROM log_entries WHERE idx = 5"))
    with session_factory() as session:
        report = audit(session, signer.known_keys)
    assert report.first_bad_index == 5


def _worker(
    url: str, worker: int, count: int, barrier: multiprocessing.synchronize.Barrier
) -> None:
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    barrier.wait()
    _append(factory, count, prefix=f"worker{worker}")
    engine.dispose()


@pytest.mark.postgres
def test_concurrent_appends_from_three_processes_stay_gapless(
    pg_db_url: str, tmp_path: Path
) -> None:
    db_url = pg_db_url
    engine = make_engine(db_url)
    session_factory = make_sessionmaker(engine)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    counts = (11, 11, 10)
    processes = [
        context.Process(target=_worker, args=(db_url, n, c, barrier)) for n, c in enumerate(counts)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join(120)
        assert p.exitcode == 0
    signer = open_signer(tmp_path, "hengyang.yjj/draws", session_factory)
    with session_factory() as session:
        assert store.size(session) == 32
        indexes = session.scalars(text("SELECT idx FROM log_entries ORDER BY idx")).all()
        assert list(indexes) == list(range(32))
        store.sign_checkpoint(session, signer)
        session.commit()
        report = audit(session, signer.known_keys)
    assert report.ok, report.problems


def test_two_signers_signing_the_same_size_at_once_both_get_the_checkpoint(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Two workers starting (or one starting while another's after-commit hook runs)
    both find the log ahead of its checkpoint and sign it at once: neither fails,
    both hold the one checkpoint."""
    _append(session_factory, 3)
    signer = open_signer(tmp_path, "hengyang.yjj/draws", session_factory)
    first = session_factory()
    signed_first = store.sign_checkpoint(first, signer)  # holds its write until commit
    result: dict[str, object] = {}

    def second_reader() -> None:
        with session_factory() as second:
            try:
                checkpoint = store.sign_checkpoint(second, signer)
                result["note"] = checkpoint.note
                second.commit()
            except Exception as exc:  # reported below, with its type
                result["error"] = exc

    thread = threading.Thread(target=second_reader)
    thread.start()
    thread.join(0.5)  # the second reader is now waiting for the first's write
    first.commit()
    note = signed_first.note
    first.close()
    thread.join(30)
    assert "error" not in result, result.get("error")
    assert result["note"] == note
    with session_factory() as session:
        assert session.scalars(text("SELECT size FROM log_checkpoints")).all() == [3]
