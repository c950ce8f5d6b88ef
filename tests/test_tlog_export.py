"""`shuangsui log export-tiles DIR`: the same bytes as /tlog/, written incrementally."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings, get_settings
from tests.test_tlog_http import _append

# The files a log has after checkpoints at 100, 300 and 600 entries (C2SP tlog-tiles:
# every full tile, and each checkpoint's partial tiles at every level).
AT_100 = {"tile/0/000.p/100", "tile/entries/000.p/100"}
AT_300 = {"tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"}
AT_300 |= {"tile/entries/000", "tile/entries/001.p/44"}
AT_600 = {"tile/0/001", "tile/0/002.p/88", "tile/1/000.p/2"}
AT_600 |= {"tile/entries/001", "tile/entries/002.p/88"}


@pytest.fixture
def run(settings: Settings, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _export(run: CliRunner, directory: Path, *more: str) -> tuple[int, str]:
    result = run.invoke(cli, ["log", "export-tiles", str(directory), *more])
    return result.exit_code, result.output


def _files(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def _same_as_served(client: TestClient, directory: Path) -> None:
    for name in _files(directory):
        served = client.get(f"/tlog/{name}", headers={"Accept-Encoding": "identity"})
        assert served.status_code == 200, name
        assert (directory / name).read_bytes() == served.content, name


def test_export_writes_what_the_server_serves(
    client: TestClient, run: CliRunner, tmp_path: Path
) -> None:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    for count in (100, 200):
        _append(factory, count, f"to-{count}")
    target = tmp_path / "mirror"
    code, output = _export(run, target)
    assert code == 0, output
    assert _files(target) == {"checkpoint"} | AT_100 | AT_300
    assert "0 → 300" in output
    _same_as_served(client, target)
    # Incrementally: only what the new checkpoint adds; nothing written before is touched.
    before = {name: (target / name).stat().st_mtime_ns for name in _files(target)}
    _append(factory, 300, "to-600")
    code, output = _export(run, target)
    assert code == 0, output
    assert _files(target) == {"checkpoint"} | AT_100 | AT_300 | AT_600
    assert re.search(r"300 → 600.*新写 5 个文件", output), output
    for name, mtime in before.items():
        if name != "checkpoint":
            assert (target / name).stat().st_mtime_ns == mtime, name
    _same_as_served(client, target)
    # Nothing new: nothing written.
    code, output = _export(run, target)
    assert code == 0 and "新写 0 个文件" in output, output


def test_export_of_a_log_never_signed_is_refused(run: CliRunner, tmp_path: Path) -> None:
    code, output = _export(run, tmp_path / "mirror")
    assert code == 1 and "尚无已签名的检查点" in output, output
    assert not (tmp_path / "mirror" / "checkpoint").exists()


def test_export_refuses_a_directory_it_does_not_extend(
    client: TestClient, run: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "mirror"
    # The service's start signed the empty log: its checkpoint, and no tile.
    code, output = _export(run, target)
    assert code == 0, output
    assert _files(target) == {"checkpoint"}
    assert (target / "checkpoint").read_text().split("\n")[1] == "0"
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    _append(factory, 300, "a")
    assert _export(run, target)[0] == 0
    note = (target / "checkpoint").read_text()
    # A tampered tile is found when the directory is checked again.
    tile = target / "tile/0/001.p/44"
    tile.write_bytes(b"\x00" * 32 + tile.read_bytes()[32:])
    code, output = _export(run, target, "--again")
    assert code == 1 and "瓦片不可更改" in output, output
    # A directory of another log (another origin), or of a bigger or other tree.
    for forged in (
        note.replace(note.split("\n")[0], "other.example/tlog", 1),
        note.replace("\n300\n", "\n301\n", 1),
        note.replace("\n300\n", "\n299\n", 1),
        "not a checkpoint",
    ):
        (target / "checkpoint").write_text(forged)
        code, output = _export(run, target)
        assert code == 1, (forged, output)
        assert "未导出" in output
        assert (target / "checkpoint").read_text() == forged
