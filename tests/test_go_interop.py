"""The log read by Go's own implementations (Debian's golang-go and golang-golang-x-mod-dev,
built offline in GOPATH mode): note.Open on the checkpoint, tlog.TileHashReader over the
tiles, tlog.CheckRecord and tlog.CheckTree on proofs — against the service running under
uvicorn on each backend, and against the directory `shuangsui log export-tiles` writes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_engine, make_sessionmaker
from app.ledger import store
from app.ledger.guard import open_signer
from app.ledger.origin import resolve_origin
from tests.conftest import IN_CI
from tests.factories import WITNESSES, ceremony_time, reveal_dice
from tests.test_concurrency import ROOT, prepare_service, service_env, start_server
from tests.test_tlog_http import _append

GOPATH = "/usr/share/gocode"
INTEROP = ROOT / "tests" / "go" / "interop" / "main.go"


@pytest.fixture(scope="session")
def go_interop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/go/interop built with Debian's Go and x/mod sources, offline."""
    go = shutil.which("go")
    if go is None or not (Path(GOPATH) / "src/golang.org/x/mod/sumdb/tlog").is_dir():
        if IN_CI:
            pytest.fail("golang-go and golang-golang-x-mod-dev are missing: CI must run Go interop")
        pytest.skip("Debian's golang-go / golang-golang-x-mod-dev are not installed here")
    out = tmp_path_factory.mktemp("go") / "interop"
    env = os.environ | {
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOFLAGS": "",
        "GOPROXY": "off",
        "GOCACHE": str(out.parent / "cache"),
    }
    built = subprocess.run(
        [go, "build", "-o", str(out), str(INTEROP)], env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    return out


def _go(binary: Path, *args: str) -> str:
    done = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def export_tiles(db_url: str, data_dir: Path, mirror: Path) -> None:
    """`shuangsui log export-tiles MIRROR`, as an operator runs it."""
    exported = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "log", "export-tiles"]
        + [str(mirror)],
        cwd=ROOT,
        env=service_env(db_url, data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert exported.returncode == 0, exported.stderr


def _sign(factory: sessionmaker[Session], data_dir: Path, db_url: str) -> None:
    signer = open_signer(data_dir, resolve_origin(None, data_dir), factory)
    with factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()


def test_go_reads_the_served_and_the_exported_log(
    go_interop: Path, db_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    keys = prepare_service(db_url, data_dir)
    engine = make_engine(db_url)
    factory = make_sessionmaker(engine)
    _append(factory, 300, "before")
    _sign(factory, data_dir, db_url)
    server = start_server(db_url, data_dir, tmp_path / "uvicorn.log")
    try:
        api = httpx.Client(base_url=server.base, headers={"X-API-Key": keys["operator"]})
        old = tmp_path / "old.checkpoint"
        old.write_text(api.get("/tlog/checkpoint").text)
        # A real ceremony through the service, then more entries: the log crosses a tile.
        plan = api.post("/api/v1/plans/from-template/2025-training").json()
        frozen = api.post(
            f"/api/v1/plans/{plan['id']}/freeze",
            json={
                "seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}
            },
        )
        assert frozen.status_code == 201, frozen.text
        done = reveal_dice(
            api, frozen.json()["public_id"], "27182818284590452353", WITNESSES, keys["witness"]
        )
        assert done.status_code == 200 and done.json()["status"] == "done", done.text
        _append(factory, 250, "after")
        _sign(factory, data_dir, db_url)
        key = api.get("/api/v1/log/key").text.strip()
        size = int(api.get("/tlog/checkpoint").text.split("\n")[1])
        assert size > 512
        out = _go(
            go_interop,
            "-key",
            key,
            "-tiles",
            f"{server.base}/tlog",
            "-api",
            server.base,
            "-old",
            str(old),
        )
        assert f"tiles ok: {size} entries" in out and f"consistency ok: 300 -> {size}" in out
        # The exported directory, read by Go as a static mirror.
        mirror = tmp_path / "mirror"
        export_tiles(db_url, data_dir, mirror)
        out = _go(go_interop, "-key", key, "-tiles", str(mirror), "-old", str(old))
        assert f"tiles ok: {size} entries" in out
        # A tile changed in the mirror is caught by TileHashReader's authentication.
        tile = mirror / "tile/0/001"
        tile.write_bytes(tile.read_bytes()[:-1] + bytes([tile.read_bytes()[-1] ^ 1]))
        failed = subprocess.run(
            [str(go_interop), "-key", key, "-tiles", str(mirror)], capture_output=True, text=True
        )
        assert failed.returncode == 1 and "FAIL" in failed.stderr
    finally:
        server.stop()
        engine.dispose()
