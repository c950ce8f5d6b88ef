"""`shuangsui monitor` follows a log over C2SP tiles served by a plain static HTTP server.

The log is made with the app's store on each database; its tiles, bundles and
checkpoint are written here from tlog-tiles (not with the service's tile code).
Each insider story must end in exit code 1 and a state left at the last sound
view: a fork signed with the log's own key, a rollback, bundles that disagree
with their hash tiles, a checkpoint signed by another key, a stale witness view.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.cli import cli
from app.ledger import store
from app.ledger.checkpoint import format_checkpoint, generate_signer
from app.ledger.keys import Signer
from app.monitor import ALARM, CANNOT_CHECK, NEWS, OK, Options, http_fetch, run
from tests.factories import dice_draw

ORIGIN = "monitor.example/tlog"
WATCHED = "91430400MA4L000X1X"


def _signer(name: str = ORIGIN) -> Signer:
    signer_key, verifier_key = generate_signer(name)
    return Signer(name, verifier_key, signer_key)


def _tile_path(n: int) -> str:
    text = f"{n:03d}"
    text = "0" * (-len(text) % 3) + text
    parts = [text[i : i + 3] for i in range(0, len(text), 3)]
    return "/".join([f"x{p}" for p in parts[:-1]] + [parts[-1]])


def write_tiles(folder: Path, bodies: list[bytes], note: str) -> None:
    """Level-0 tiles and entry bundles for a tree of len(bodies), and its checkpoint."""
    size = len(bodies)
    for n in range(-(-size // 256)):
        chunk = bodies[n * 256 : (n + 1) * 256]
        name = _tile_path(n) + ("" if len(chunk) == 256 else f".p/{len(chunk)}")
        leaves = b"".join(hashlib.sha256(b"\x00" + b).digest() for b in chunk)
        bundle = b"".join(len(b).to_bytes(2, "big") + b for b in chunk)
        for path, data in (
            (folder / "tile/0" / name, leaves),
            (folder / "tile/entries" / name, bundle),
        ):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    (folder / "checkpoint").write_text(note, encoding="utf-8")


class Log:
    """A log in the database, published as static tiles."""

    def __init__(self, factory: sessionmaker[Session], folder: Path, signer: Signer) -> None:
        self.factory, self.folder, self.signer = factory, folder, signer

    def add(self, *entries: dict[str, Any]) -> None:
        with self.factory() as session:
            for entry in entries:
                store.append(session, entry)
            checkpoint = store.sign_checkpoint(session, self.signer)
            session.commit()
            bodies = [store.entry(session, i).body for i in range(checkpoint.size)]
            write_tiles(self.folder, bodies, checkpoint.note)


def _filler(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "kind": "inspection",
            "at": "2024-03-01T01:00:00Z",
            "draw": f"HY-2024-{i:04d}",
            "uscc": "X",
        }
        for i in range(start, start + count)
    ]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    folder = tmp_path / "site"
    folder.mkdir()
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _monitor(url: str, state: Path, keys: list[str], **kw: Any) -> tuple[int, list[str]]:
    said: list[str] = []
    code = run(Options(url, state, keys, **kw), http_fetch, said.append)
    return code, said


def test_the_monitor_follows_a_growing_log_and_reports_the_watched_enterprise(
    session_factory: sessionmaker[Session], served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = served
    log = Log(session_factory, folder, _signer())
    key, state = log.signer.verifier_key, tmp_path / "state" / "monitor.json"
    log.add(*_filler(250))
    assert _monitor(url, state, [key], watch=[WATCHED]) == (OK, [])
    saved = json.loads(state.read_text())
    assert saved["size"] == 250 and saved["origin"] == ORIGIN
    assert _monitor(url, state, [key], watch=[WATCHED]) == (OK, [])  # nothing new

    # Across two tile boundaries, with a result that draws the watched enterprise.
    result = {
        "kind": "result",
        "at": "2024-03-02T02:00:00Z",
        "draw": "HY-2024-0900",
        "result_hash": "ab" * 32,
        "selected": {"stratum-1": ["91430400MA4L000Y2Y", WATCHED]},
    }
    log.add(*_filler(100, 250), result, *_filler(200, 351))
    code, said = _monitor(url, state, [key], watch=[WATCHED])
    assert code == NEWS, said
    assert len(said) == 1 and "第 350 条 result" in said[0] and "HY-2024-0900" in said[0]
    assert json.loads(state.read_text())["size"] == 551
    # A later entry about that draw (an annulment) is news too; others are not.
    annul = {"kind": "annulment", "at": "2024-03-03T00:00:00Z", "draw": "HY-2024-0900"}
    log.add(annul, *_filler(3, 600))
    code, said = _monitor(url, state, [key], watch=[WATCHED])
    assert code == NEWS and len(said) == 1 and "annulment" in said[0], said
    assert _monitor(url, state, [key], watch=[WATCHED])[0] == OK
    # Without --watch, news is nobody's business: the log is sound.
    log.add(*_filler(1, 700))
    assert _monitor(url, state, [key]) == (OK, [])

    # The command as cron runs it.
    log.add(dict(result, draw="HY-2024-0901"))
    runner = CliRunner()
    args = ["monitor", url, "--state", str(state), "--key", key, "--watch", WATCHED]
    answer = runner.invoke(cli, args)
    assert answer.exit_code == NEWS, answer.output
    assert "HY-2024-0901" in answer.output
    assert runner.invoke(cli, args).exit_code == OK


def _sound_state(
    session_factory: sessionmaker[Session], folder: Path, tmp_path: Path, url: str
) -> tuple[Log, Path, str]:
    log = Log(session_factory, folder, _signer())
    log.add(*_filler(300))
    state = tmp_path / "monitor.json"
    assert _monitor(url, state, [log.signer.verifier_key])[0] == OK
    return log, state, log.signer.verifier_key


def _alarm(url: str, state: Path, key: str, reason: str, **kw: Any) -> None:
    before = state.read_bytes()
    code, said = _monitor(url, state, [key], **kw)
    assert code == ALARM, said
    assert "ALARM" in said[0] and reason in said[0], said
    assert state.read_bytes() == before  # the last sound view is kept


def test_a_fork_signed_with_the_logs_own_key_is_an_alarm(
    session_factory: sessionmaker[Session], served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = served
    log, state, key = _sound_state(session_factory, folder, tmp_path, url)
    # Another history of 400 entries whose first 300 differ in one entry.
    bodies = [store.entry_bytes(e) for e in _filler(400)]
    bodies[7] = store.entry_bytes(dict(_filler(1, 7)[0], uscc="Y"))
    leaves = [hashlib.sha256(b"\x00" + b).digest() for b in bodies]
    root = _mth(leaves)
    write_tiles(folder, bodies, log.signer.sign(format_checkpoint(ORIGIN, 400, root)))
    _alarm(url, state, key, "分叉或改写")
    # The same, and the tiles agree with the forged root, at the same size as seen.
    write_tiles(
        folder, bodies[:300], log.signer.sign(format_checkpoint(ORIGIN, 300, _mth(leaves[:300])))
    )
    _alarm(url, state, key, "分叉或改写")


def _mth(leaves: list[bytes]) -> bytes:
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + _mth(leaves[:split]) + _mth(leaves[split:])).digest()


def test_rollback_tiles_that_disagree_and_strange_keys_are_alarms(
    session_factory: sessionmaker[Session], served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = served
    log, state, key = _sound_state(session_factory, folder, tmp_path, url)
    sound = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    def restore() -> None:
        for path, data in sound.items():
            path.write_bytes(data)

    # A restored backup: the log is smaller than what was seen, properly signed.
    with session_factory() as session:
        older = store.root(session, 200)
    (folder / "checkpoint").write_text(log.signer.sign(format_checkpoint(ORIGIN, 200, older)))
    _alarm(url, state, key, "回滚")
    restore()
    # An entry rewritten in its bundle, the hash tile left alone.
    log.add(*_filler(10, 300))
    bundle = folder / "tile/entries/001.p/54"
    data = bytearray(bundle.read_bytes())
    data[-3] ^= 0x01
    bundle.write_bytes(bytes(data))
    _alarm(url, state, key, "叶哈希与哈希瓦片不符")
    # A bundle cut short.
    bundle.write_bytes(bytes(data[:-10]))
    _alarm(url, state, key, "entry")
    restore()
    # A checkpoint signed by another key under the log's name.
    impostor = _signer()
    (folder / "checkpoint").write_text(impostor.sign(format_checkpoint(ORIGIN, 1, b"\0" * 32)))
    _alarm(url, state, key, "签名无效")
    # The right key, another origin.
    other = _signer("other.example/log")
    (folder / "checkpoint").write_text(
        other.sign(format_checkpoint("other.example/log", 300, older))
    )
    _alarm(url, state, other.verifier_key, "日志标识变了")


def test_what_cannot_be_checked_now_exits_2(
    session_factory: sessionmaker[Session], served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = served
    log, state, key = _sound_state(session_factory, folder, tmp_path, url)
    before = state.read_bytes()
    log.add(*_filler(5, 300))
    (folder / "tile/entries/001.p/49").unlink()  # a missing bundle: retry later
    code, said = _monitor(url, state, [key])
    assert code == CANNOT_CHECK and "HTTP 404" in said[0], said
    assert state.read_bytes() == before
    assert _monitor("http://127.0.0.1:9/tlog", state, [key])[0] == CANNOT_CHECK
    assert _monitor(url, state, ["not a key"])[0] == CANNOT_CHECK
    state.write_text("{not json")
    assert _monitor(url, state, [key])[0] == CANNOT_CHECK
    tampered = json.loads(before)
    tampered["size"] += 1
    state.write_text(json.dumps(tampered))
    code, said = _monitor(url, state, [key])
    assert code == CANNOT_CHECK, said
    flipped = json.loads(before)
    flipped["root"] = base64.b64encode(b"\1" * 32).decode()
    state.write_text(json.dumps(flipped))
    code, said = _monitor(url, state, [key])
    assert code == CANNOT_CHECK and "自相矛盾" in said[0], said


def _cosign(note: str, name: str, private: Ed25519PrivateKey, when: int) -> tuple[str, str]:
    """A cosignature/v1 line (made from the spec), and the witness's vkey."""
    public = private.public_key().public_bytes_raw()
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    body = note[: note.index("\n\n") + 1]
    signature = private.sign(f"cosignature/v1\ntime {when}\n{body}".encode())
    line = base64.b64encode(key_id + when.to_bytes(8, "big") + signature).decode()
    vkey = f"{name}+{key_id.hex()}+" + base64.b64encode(b"\x04" + public).decode()
    return note + f"\u2014 {name} {line}\n", vkey


def test_freshness_is_the_age_of_the_newest_witness_cosignature(
    session_factory: sessionmaker[Session], served: tuple[Path, str], tmp_path: Path
) -> None:
    folder, url = served
    log = Log(session_factory, folder, _signer())
    log.add(*_filler(3))
    key, state = log.signer.verifier_key, tmp_path / "monitor.json"
    note = (folder / "checkpoint").read_text()
    witness = Ed25519PrivateKey.generate()
    now = int(time.time())
    fresh, vkey = _cosign(note, "witness.example/w", witness, now - 60)
    (folder / "checkpoint").write_text(fresh)
    assert _monitor(url, state, [key], witnesses=[vkey], max_age=3600)[0] == OK
    stale, _ = _cosign(note, "witness.example/w", witness, now - 7200)
    (folder / "checkpoint").write_text(stale)
    _alarm(url, state, key, "秒前", witnesses=[vkey], max_age=3600)
    (folder / "checkpoint").write_text(note)
    _alarm(url, state, key, "没有任何已知见证人", witnesses=[vkey], max_age=3600)
    # A cosignature by someone else, or one whose time was changed, counts for nothing.
    forged = fresh.replace(fresh.rsplit(" ", 1)[1][:8], "AAAAAAAA")
    (folder / "checkpoint").write_text(forged)
    _alarm(url, state, key, "没有任何已知见证人", witnesses=[vkey], max_age=3600)


def test_the_monitor_follows_the_service_own_tlog_through_two_ceremonies(
    demo: Any, tmp_path: Path
) -> None:
    """The same monitor, reading the tiles the service itself serves under /tlog/."""

    def fetch(url: str) -> bytes:
        response = demo.get(url.removeprefix("http://testserver"))
        if response.status_code != 200:
            raise OSError(f"GET {url}: HTTP {response.status_code}")
        return bytes(response.content)

    key = demo.get("/api/v1/log/key").text.strip()
    state = tmp_path / "monitor.json"
    options = Options("http://testserver/tlog", state, [key])
    said: list[str] = []
    plan = demo.post("/api/v1/plans/from-template/2024-hazchem").json()
    dice_draw(demo, plan["id"], "38274619283746529183")
    assert run(options, fetch, said.append) == OK, said
    first = json.loads(state.read_text())
    plan = demo.post("/api/v1/plans/from-template/2024-coal").json()
    dice_draw(demo, plan["id"], "91827364554637281910")
    assert run(options, fetch, said.append) == OK, said
    second = json.loads(state.read_text())
    assert second["size"] > first["size"] >= 3
    # The monitor's view is the checkpoint the service serves now.
    assert demo.get("/tlog/checkpoint").text.splitlines()[1] == str(second["size"])
