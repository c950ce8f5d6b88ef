"""The log's origin is one per installation: production names it, the demo derives it
from its address, and the name every installation once shared is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from app.ledger.checkpoint import generate_signer, parse_verifier_key
from app.ledger.keys import SIGNER_FILE, VERIFIER_FILE
from app.ledger.origin import OriginError, check_origin, demo_origin, resolve_origin
from app.main import create_app

OLD_DEFAULT = "hengyang.yjj/draws"  # what every installation shipped with


@pytest.mark.parametrize(
    "origin",
    [
        OLD_DEFAULT,
        "https://yjj.hengyang.gov.cn/shuangsui/tlog",  # schema-less
        "yjj.hengyang.gov.cn/shuangsui/tlog/",  # no trailing slash
        "yjj.hengyang.gov.cn/shuangsui tlog",
        "yjj.hengyang.gov.cn/a+b",  # "+" ends a key name in a signed note
        "衡阳.gov.cn/tlog",
        "yjj.example/tlog\n",
        "",
    ],
)
def test_unusable_origins_are_refused(origin: str) -> None:
    with pytest.raises(OriginError) as refused:
        check_origin(origin)
    assert "SHUANGSUI_LOG_ORIGIN" in str(refused.value)


def test_usable_origins() -> None:
    assert (
        check_origin("yjj.hengyang.gov.cn/shuangsui/tlog") == "yjj.hengyang.gov.cn/shuangsui/tlog"
    )
    assert demo_origin("0.0.0.0", 8000) == "0.0.0.0:8000/tlog"
    assert demo_origin("::", 80) == "[::]:80/tlog"


def test_an_installation_on_the_old_shared_name_does_not_start(tmp_path: Path) -> None:
    # Configured so, or found in an old installation's key file: refused either way.
    with pytest.raises(OriginError):
        resolve_origin(OLD_DEFAULT, tmp_path)
    signer_key, verifier_key = generate_signer(OLD_DEFAULT)
    (tmp_path / SIGNER_FILE).write_text(signer_key + "\n")
    (tmp_path / SIGNER_FILE).chmod(0o600)
    (tmp_path / VERIFIER_FILE).write_text(verifier_key + "\n")
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.sqlite3", data_dir=tmp_path)
    with pytest.raises(OriginError), TestClient(create_app(settings)):
        pass


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(data_dir))
    # Recorded first, so that the value `serve --demo` puts in os.environ is undone too.
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", "")
    monkeypatch.delenv("SHUANGSUI_LOG_ORIGIN")
    get_settings.cache_clear()
    yield data_dir
    get_settings.cache_clear()


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """uvicorn.run, recorded instead of serving."""
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    return calls


def _key_name(data_dir: Path) -> str:
    return parse_verifier_key((data_dir / VERIFIER_FILE).read_text().strip()).name


def test_production_must_name_its_log(
    cli_env: Path, served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    refused = runner.invoke(cli, ["serve"])
    assert refused.exit_code == 2 and "SHUANGSUI_LOG_ORIGIN" in refused.output
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", OLD_DEFAULT)
    get_settings.cache_clear()
    refused = runner.invoke(cli, ["serve"])
    assert refused.exit_code == 2 and "共用" in refused.output
    assert not served and not (cli_env / SIGNER_FILE).exists()
    monkeypatch.setenv("SHUANGSUI_LOG_ORIGIN", "yjj.hengyang.gov.cn/shuangsui/tlog")
    get_settings.cache_clear()
    started = runner.invoke(cli, ["serve", "--port", "8123"])
    assert started.exit_code == 0, started.output
    assert len(served) == 1
    assert _key_name(cli_env) == "yjj.hengyang.gov.cn/shuangsui/tlog"


def test_the_demo_names_its_log_after_its_address(
    cli_env: Path, served: list[dict[str, Any]]
) -> None:
    runner = CliRunner()
    started = runner.invoke(cli, ["serve", "--demo", "--host", "127.0.0.1", "--port", "8123"])
    assert started.exit_code == 0, started.output
    assert len(served) == 1
    assert _key_name(cli_env) == "127.0.0.1:8123/tlog"
    # Later commands on the same data directory find the log's name in its key.
    get_settings.cache_clear()
    audited = runner.invoke(cli, ["audit-log"], env={"SHUANGSUI_LOG_ORIGIN": ""})
    assert audited.exit_code == 0, audited.output
