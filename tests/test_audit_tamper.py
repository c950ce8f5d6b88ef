"""A DBA edits what the pages serve, or what history says: the database refuses, or
`shuangsui audit-log` names the row, and never crashes on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.draws import service, templates
from app.history import ChangeRecord
from app.ledger import store
from app.ledger.audit import audit
from app.ledger.guard import open_signer
from app.ledger.keys import Signer
from app.ledger.origin import LOCAL_ORIGIN
from app.pools.demo_load import load_demo_pool
from tests.factories import WITNESSES, freeze_with_dice, reveal_at_console

DIGITS = "31415926535897932384"


@pytest.fixture
def signer(tmp_path: Path, session_factory: sessionmaker[Session]) -> Signer:
    return open_signer(tmp_path / "data", LOCAL_ORIGIN, session_factory)


@pytest.fixture
def drawn(session_factory: sessionmaker[Session], signer: Signer) -> str:
    """One finished draw on the demo pool, its checkpoint signed; its public id."""
    with session_factory() as session:
        load_demo_pool(session)
        plan = service.create_plan(
            session, data=templates.TEMPLATES["2025-hazchem"], actor="测试", template_key="x"
        )
        draw = freeze_with_dice(session, plan, WITNESSES)
        done = reveal_at_console(session, draw.public_id, DIGITS, WITNESSES)
        assert done.status == "done"
        public_id = done.public_id
        session.commit()
    with session_factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    return public_id


def _problems(session_factory: sessionmaker[Session], signer: Signer) -> list[str]:
    with session_factory() as session:
        return audit(session, signer.known_keys).problems


def test_a_sound_database_passes(
    session_factory: sessionmaker[Session], signer: Signer, drawn: str
) -> None:
    with session_factory() as session:
        report = audit(session, signer.known_keys)
    assert report.ok, report.problems
    assert (report.draws, report.checkpoints) == (1, 1)


@pytest.mark.parametrize(
    ("column", "edit", "named"),
    [
        ("result_jcs", "replace(result_jcs, '\"selected\"', '\"selected \"')", "draws.result_jcs"),
        ("frame_jcs", "replace(frame_jcs, '\"units\"', '\"units \"')", "draws.frame_jcs"),
        ("seed", "'forged-seed'", "draws.seed"),
        ("result_hash", "'00'", "draws.result_hash"),
    ],
)
def test_an_edited_draw_is_named(
    engine: Engine,
    session_factory: sessionmaker[Session],
    signer: Signer,
    drawn: str,
    column: str,
    edit: str,
    named: str,
) -> None:
    with engine.begin() as conn:
        changed = conn.execute(
            text(f"UPDATE draws SET {column} = {edit} WHERE public_id = :p"), {"p": drawn}
        )
        assert changed.rowcount == 1
    problems = _problems(session_factory, signer)
    assert any(drawn in p and named in p for p in problems), problems


def test_history_and_the_log_head_refuse_updates_and_deletes(
    engine: Engine, session_factory: sessionmaker[Session], drawn: str
) -> None:
    with session_factory() as session:
        assert session.query(ChangeRecord).count() > 0
        size = store.size(session)
    for statement in (
        "UPDATE change_records SET actor = '别人'",
        "DELETE FROM change_records",
        "UPDATE draw_units SET uscc = '91430000000000000X'",
        "DELETE FROM draw_units",
        "UPDATE log_head SET size = size - 1",
        "UPDATE log_head SET size = 0",
        "UPDATE log_head SET id = 2",
        "DELETE FROM log_head",
    ):
        with engine.connect() as conn, pytest.raises(DatabaseError):
            conn.execute(text(statement))
            conn.commit()
    if engine.dialect.name == "postgresql":
        for table in ("change_records", "draw_units", "log_head"):
            with engine.connect() as conn, pytest.raises(DatabaseError, match="refused"):
                conn.execute(text(f"TRUNCATE {table} CASCADE"))
                conn.commit()
    # What the service itself writes still works: the lock, and the append's advance.
    with session_factory() as session:
        store.lock_head(session)
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z"})
        session.commit()
    with session_factory() as session:
        assert store.size(session) == size + 1


def _as_dba(engine: Engine, *statements: str) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", LOCAL_ORIGIN)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_an_entry_body_turned_into_text_is_reported_not_a_crash(
    engine: Engine,
    session_factory: sessionmaker[Session],
    signer: Signer,
    drawn: str,
    cli_env: CliRunner,
) -> None:
    if engine.dialect.name == "postgresql":
        # bytea holds no text: a DBA changes the column's type, which fires no row trigger.
        _as_dba(
            engine,
            "ALTER TABLE log_entries ALTER COLUMN body TYPE text USING convert_from(body, 'UTF8')",
        )
    else:
        _as_dba(
            engine,
            "DROP TRIGGER log_entries_no_update",
            "UPDATE log_entries SET body = CAST(body AS TEXT) WHERE idx = 1",
        )
    problems = _problems(session_factory, signer)
    assert any("log_entries（第 1 条）的 body 为 TEXT，应为 BLOB" in p for p in problems), problems
    result = cli_env.invoke(cli, ["audit-log"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "body 为 TEXT" in result.output


def test_nulls_and_wrong_types_are_named(
    engine: Engine, session_factory: sessionmaker[Session], signer: Signer, drawn: str
) -> None:
    if engine.dialect.name == "postgresql":
        _as_dba(
            engine,
            "ALTER TABLE log_checkpoints DISABLE TRIGGER USER",
            "ALTER TABLE log_checkpoints ALTER COLUMN root_hash DROP NOT NULL",
            "UPDATE log_checkpoints SET root_hash = NULL",
            "UPDATE draws SET result_jcs = NULL",
        )
    else:
        _as_dba(
            engine,
            "DROP TRIGGER log_checkpoints_no_update",
            # SQLite keeps NOT NULL, but not the column's type.
            "UPDATE log_checkpoints SET root_hash = 'not a hash'",
            "UPDATE draws SET result_jcs = X'00'",
        )
    problems = _problems(session_factory, signer)
    wrong = "NULL" if engine.dialect.name == "postgresql" else "TEXT"
    assert any("log_checkpoints（大小 " in p and f"root_hash 为 {wrong}" in p for p in problems), (
        problems
    )
    assert any(drawn in p and "result_jcs 为" in p for p in problems), problems
    # The triggers the DBA removed or disabled are named too.
    assert any("log_checkpoints_" in p and "缺失或被停用" in p for p in problems), problems
