"""Fixtures: every database test runs on SQLite and on a real PostgreSQL server.

The schema is built once per backend by running the Alembic migrations into a
template; each test then gets a fresh copy (a copied SQLite file, or
CREATE DATABASE ... TEMPLATE on PostgreSQL), so tests commit for real and stay
isolated.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from app.access.keys import create_key
from app.access.policy import ROLE_NAMES, Role
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.main import create_app
from app.migrate import upgrade
from app.pools.demo_load import load_demo_pool
from tests.auditor import verify_every_draw
from tests.error_answers import RecordErrors, undocumented
from tests.factories import ApiClient
from tests.pg import find_pg_bin, running_server

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A PostgreSQL server started for this test run."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        if IN_CI:
            pytest.fail("PostgreSQL binaries are missing: CI must run the PostgreSQL half")
        pytest.skip("PostgreSQL is not installed here (initdb/pg_ctl not found)")
    with running_server(bin_dir) as url:
        yield url


def _admin_execute(admin_url: str, *statements: str) -> None:
    engine = create_engine(f"{admin_url}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


@pytest.fixture(scope="session")
def pg_template(pg_admin_url: str) -> str:
    """The name of a database holding the migrated schema."""
    _admin_execute(pg_admin_url, "CREATE DATABASE shuangsui_template")
    upgrade(f"{pg_admin_url}/shuangsui_template")
    return "shuangsui_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file holding the migrated schema."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    upgrade(f"sqlite:///{path}")
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        # Fold the WAL into the main file so that a plain copy is complete.
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated, empty database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "test.sqlite3"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    admin_url: str = request.getfixturevalue("pg_admin_url")
    template_name: str = request.getfixturevalue("pg_template")
    name = f"t_{os.getpid()}_{next(_counter)}"
    _admin_execute(admin_url, f"CREATE DATABASE {name} TEMPLATE {template_name}")
    yield f"{admin_url}/{name}"
    _admin_execute(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def pg_db_url(pg_admin_url: str, pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database (for tests about PostgreSQL alone)."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    _admin_execute(pg_admin_url, f"CREATE DATABASE {name} TEMPLATE {pg_template}")
    yield f"{pg_admin_url}/{name}"
    _admin_execute(pg_admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def backend(db_url: str) -> str:
    """'sqlite' or 'postgresql'."""
    return make_url(db_url).get_backend_name()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    # Tests render public pages far faster than a person: no rate limit on renderings,
    # except in tests/test_public_reads.py, which tests it.
    # The test client's address is "testclient": it scrapes /metrics as the loopback would.
    return Settings(
        database_url=db_url,
        data_dir=data_dir,
        public_render_rate="1000000/minute",
        metrics_scrapers="127.0.0.1,::1,testclient",
    )


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def api_keys(session_factory: sessionmaker[Session]) -> dict[str, str]:
    """One API key of each role, issued as an admin would."""
    with session_factory() as session:
        secrets = {
            role.value: create_key(
                session, name=f"测试{ROLE_NAMES[role]}", role=role, actor="测试", expires_at=None
            ).secret
            for role in Role
        }
        session.commit()
    return secrets


@pytest.fixture
def client(settings: Settings, api_keys: dict[str, str]) -> Iterator[ApiClient]:
    """The application over real HTTP semantics, on a fresh database, as an operator.

    Afterwards, every draw the test made is verified as an auditor would.
    """
    app = create_app(settings)
    app.add_middleware(RecordErrors)
    with ApiClient(app, api_keys, raise_server_exceptions=False) as test_client:
        yield test_client
        verify_every_draw(test_client)


@pytest.fixture
def demo(client: ApiClient, session_factory: sessionmaker[Session]) -> ApiClient:
    """The client, on a database holding the demo pool of Hengyang."""
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    return client


@pytest.fixture(scope="session", autouse=True)
def every_error_answer_is_documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """After the run: each problem answer a test provoked is listed in the
    OpenAPI document for the operation that gave it."""
    yield
    data_dir = tmp_path_factory.mktemp("openapi")
    document = create_app(Settings(database_url="sqlite://", data_dir=data_dir)).openapi()
    missing = undocumented(document)
    assert not missing, "error answers missing from the OpenAPI document:\n" + "\n".join(missing)
