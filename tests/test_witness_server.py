"""`shuangsui witness serve`, the witness a partner body runs, as a real process over
HTTP: every status of C2SP tlog-witness add-checkpoint provoked with requests made
here by hand, its cosignature checked from the spec's words, its state kept across
a restart and updated atomically; then the service's client against it on both
databases, and a service of three workers that asks it once per checkpoint."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session, sessionmaker

from app.ledger import merkle, store, witnessing
from app.ledger.guard import open_signer
from app.ledger.keys import Signer, load_signer
from app.ledger.witness_worker import Witnessing
from tests.test_concurrency import free_port

ROOT = Path(__file__).resolve().parents[1]
ORIGIN = "shipped-witness.example/tlog"
WITNESS_NAME = "jw.hengyang.example/witness"


@dataclass
class Witness:
    directory: Path
    logs: Path
    vkey: str
    url: str
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        port = int(self.url.rsplit(":", 1)[1].split("/")[0])
        command = [sys.executable, "-c", "from app.cli import main; main()", "witness", "serve"]
        command += ["--dir", str(self.directory), "--logs", str(self.logs), "--port", str(port)]
        command += ["--prefix", "/w"]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/x/checkpoint", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail("the witness did not start")

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
            self.process = None


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def signer(tmp_path: Path, session_factory: sessionmaker[Session]) -> Signer:
    (tmp_path / "logdata").mkdir()
    return open_signer(tmp_path / "logdata", ORIGIN, session_factory)


@pytest.fixture
def witness(tmp_path: Path, signer: Signer) -> Iterator[Witness]:
    directory = tmp_path / "witness"
    made = _cli("witness", "init", WITNESS_NAME, "--dir", str(directory))
    assert made.returncode == 0, made.stderr
    vkey = made.stdout.strip().splitlines()[-1]
    assert stat.S_IMODE((directory / "witness.key").stat().st_mode) == 0o600
    again = _cli("witness", "init", WITNESS_NAME, "--dir", str(directory))
    assert again.returncode == 1 and "不会被覆盖" in again.stderr
    logs = tmp_path / "logs.txt"
    logs.write_text(f"# the bureau's draw log\nlog {signer.verifier_key}\n")
    running = Witness(directory, logs, vkey, f"http://127.0.0.1:{free_port()}/w")
    running.start()
    yield running
    running.stop()


def _note(signer: Signer, size: int, root: bytes) -> str:
    return signer.sign(f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n")


def _body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    return f"old {old}\n{lines}\n{note}".encode()


def _check(witness: Witness, note: str, line: str) -> int:
    """The witness's cosignature line on `note`, verified from the spec's words."""
    name, key_id, key_b64 = witness.vkey.split("+", 2)
    assert line.startswith(f"\u2014 {name} ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4].hex() == key_id and len(blob) == 4 + 8 + 64
    (stamp,) = struct.unpack(">Q", blob[4:12])
    body = note[: note.index("\n\n") + 1]
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(key_b64)[1:])
    public.verify(blob[12:], f"cosignature/v1\ntime {stamp}\n{body}".encode())
    return int(stamp)


def test_add_checkpoint_answers_as_the_spec_says(witness: Witness, signer: Signer) -> None:
    tree = merkle.MemoryTree()
    for i in range(5):
        tree.append(f"entry {i}".encode())
    post = witness.url + "/add-checkpoint"
    origin_hash = hashlib.sha256(ORIGIN.encode()).hexdigest()
    with httpx.Client(timeout=10) as http:
        assert http.get(f"{witness.url}/{origin_hash}/checkpoint").status_code == 404
        note5 = _note(signer, 5, tree.root())
        # Unknown origin: 404.
        stranger = load_signer(witness.directory.parent, "other.example/log", create=True)
        other = stranger.sign(f"other.example/log\n5\n{base64.b64encode(tree.root()).decode()}\n")
        assert http.post(post, content=_body(0, [], other)).status_code == 404
        # No signature by the trusted key (only another key's), or a bad one: 403.
        unsigned = note5.split("\n\n")[0] + "\n\n" + other.split("\n\n")[1]
        assert http.post(post, content=_body(0, [], unsigned)).status_code == 403
        blob = bytearray(base64.b64decode(note5.split(" ")[-1]))
        blob[10] ^= 1
        forged = note5.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(blob)).decode() + "\n"
        assert http.post(post, content=_body(0, [], forged)).status_code == 403
        # An old size above the checkpoint's: 400; malformed requests: 400.
        assert http.post(post, content=_body(6, [], note5)).status_code == 400
        for bad in (
            b"",
            b"old 01\n\n" + note5.encode(),
            b"old 0\n" + note5.encode(),
            b"old 0\nnot base64!\n\n" + note5.encode(),
            b"old 0\n\n\x01" + note5.encode(),
        ):
            assert http.post(post, content=bad).status_code == 400, bad[:20]
        too_long = _body(0, [b"\x00" * 32] * 64, note5)
        assert http.post(post, content=too_long).status_code == 400
        # A proof with an old size of zero: 422.
        assert http.post(post, content=_body(0, [tree.root()], note5)).status_code == 422
        # A size-zero checkpoint must carry the empty tree's root: 422.
        zero = _note(signer, 0, hashlib.sha256(b"x").digest())
        assert http.post(post, content=_body(0, [], zero)).status_code == 422

        first = http.post(post, content=_body(0, [], note5))
        assert first.status_code == 200
        stamp = _check(witness, note5, first.text)
        assert abs(stamp - time.time()) < 60
        # Now the witness holds size 5: any other old size is a 409 naming it.
        stale = http.post(post, content=_body(0, [], note5))
        assert stale.status_code == 409 and stale.text == "5\n"
        assert stale.headers["content-type"].split(";")[0] == "text/x.tlog.size"
        # Same size again: the same root is cosigned again, another is 422.
        assert http.post(post, content=_body(5, [], note5)).status_code == 200
        fork = _note(signer, 5, hashlib.sha256(b"fork").digest())
        assert http.post(post, content=_body(5, [], fork)).status_code == 422

        for i in range(5, 13):
            tree.append(f"entry {i}".encode())
        note13 = _note(signer, 13, tree.root())
        proof = merkle.consistency_proof(5, 13, tree.nodes)
        wrong = [bytes(32)] + proof[1:]
        assert http.post(post, content=_body(5, wrong, note13)).status_code == 422
        assert http.post(post, content=_body(5, proof[:-1], note13)).status_code == 422
        good = http.post(post, content=_body(5, proof, note13))
        assert good.status_code == 200
        _check(witness, note13, good.text)
        # A witness does not go back: the older checkpoint now gets a 409.
        assert http.post(post, content=_body(5, [], note5)).text == "13\n"

        # The monitoring checkpoint: the log's signature and the witness's cosignature.
        served = http.get(f"{witness.url}/{origin_hash}/checkpoint").text
        assert served.startswith(note13)
        _check(witness, note13, served[len(note13) :])

    # Its state survives a restart.
    witness.stop()
    witness.start()
    with httpx.Client(timeout=10) as http:
        assert http.post(post, content=_body(0, [], note13)).text == "13\n"


def test_racing_requests_never_roll_the_witness_back(witness: Witness, signer: Signer) -> None:
    tree = merkle.MemoryTree()
    notes = {}
    for i in range(40):
        tree.append(f"e{i}".encode())
        notes[i + 1] = _note(signer, i + 1, tree.root())
    answers: list[int] = []
    barrier = threading.Barrier(8)

    def send(size: int) -> None:
        barrier.wait()
        with httpx.Client(timeout=20) as http:
            response = http.post(witness.url + "/add-checkpoint", content=_body(0, [], notes[size]))
            answers.append(response.status_code)

    threads = [threading.Thread(target=send, args=(n,)) for n in (3, 9, 14, 20, 25, 30, 35, 40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # From old size 0 only one can pass; the rest learn the size it stored.
    assert sorted(answers) == [200] + [409] * 7


def test_the_client_against_the_shipped_witness(
    session_factory: sessionmaker[Session], signer: Signer, witness: Witness, tmp_path: Path
) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(
        f"log {signer.verifier_key}\nwitness JW {witness.vkey} {witness.url}\nquorum JW\n"
    )
    client = Witnessing(session_factory, witnessing.load_policy(policy, signer.published_keys))
    sizes = []
    for count in (3, 1, 6):
        with session_factory() as session:
            for i in range(count):
                store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "i": i})
            session.commit()
        with session_factory() as session:
            sizes.append(store.sign_checkpoint(session, signer).size)
            session.commit()
        outcome = client.run_once()[0]
        assert (outcome.status, outcome.size) == ("cosigned", sizes[-1])
    for size in sizes:
        with session_factory() as session:
            checkpoint = session.get(store.Checkpoint, size)
            assert checkpoint is not None
            note = store.published_note(session, checkpoint)
        _check(witness, note, note[len(checkpoint.note) :])
    client.http.close()


def test_a_key_that_others_can_read_is_refused(witness: Witness, tmp_path: Path) -> None:
    witness.stop()
    (witness.directory / "witness.key").chmod(0o644)
    answer = _cli("witness", "serve", "--dir", str(witness.directory), "--logs", str(witness.logs))
    assert answer.returncode == 1 and "0600" in answer.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    (witness.directory / "witness.key").chmod(0o600)
    answer = _cli("witness", "serve", "--dir", str(witness.directory), "--logs", str(empty))
    assert answer.returncode == 1 and "没有 log 行" in answer.stderr


def test_push_and_status_from_the_command_line(
    db_url: str,
    session_factory: sessionmaker[Session],
    signer: Signer,
    witness: Witness,
    tmp_path: Path,
) -> None:
    policy = tmp_path / "policy.txt"
    policy.write_text(
        f"log {signer.verifier_key}\nwitness 纪检 {witness.vkey} {witness.url}\nquorum 纪检\n"
    )
    with session_factory() as session:
        store.append(session, {"kind": "inspection", "at": "2025-06-01T00:00:00Z"})
        session.commit()
    env = os.environ | {
        "SHUANGSUI_DATABASE_URL": db_url,
        "SHUANGSUI_DATA_DIR": str(tmp_path / "logdata"),
        "SHUANGSUI_LOG_ORIGIN": ORIGIN,
        "SHUANGSUI_WITNESS_POLICY": str(policy),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-c", "from app.cli import main; main()", "witness", *args]
        return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)

    before = run("status")
    assert before.returncode == 0 and "未知" in before.stdout
    # The entry has no checkpoint yet: push signs none, the service's commit hook does.
    with session_factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    pushed = run("push")
    assert pushed.returncode == 0, pushed.stderr
    assert "纪检：已联署 大小 1" in pushed.stdout
    # Asked again (a push always asks), the witness cosigns the same checkpoint again;
    # the first cosignature stays the one kept.
    assert "纪检：已联署 大小 1" in run("push").stdout
    with session_factory() as session:
        checkpoint = session.get(store.Checkpoint, 1)
        assert checkpoint is not None
        assert store.published_note(session, checkpoint).count("\u2014 ") == 2
    after = run("status")
    assert after.returncode == 0 and "已联署大小 1" in after.stdout
    policy.write_text("witness 纪检 broken\nquorum 纪检\n")
    broken = run("push")
    assert broken.returncode == 1 and "策略文件第 1 行" in broken.stderr


def test_hostile_requests_get_a_4xx_never_an_error(tmp_path: Path, signer: Signer) -> None:
    from app.ledger.checkpoint import parse_verifier_key
    from app.ledger.cosignature import generate_cosigner, parse_cosigner_key
    from app.witness.core import Witness as Core
    from app.witness.state import WitnessState

    secret, _ = generate_cosigner(WITNESS_NAME)
    core = Core(
        parse_cosigner_key(secret),
        {ORIGIN: [parse_verifier_key(signer.verifier_key)]},
        WitnessState(tmp_path / "state.sqlite3"),
    )
    note = _note(signer, 1, hashlib.sha256(b"\x00x").digest())
    sig = note.split("\n\n")[1]
    hostile = [
        b"\xff\xfe",
        b"old 99999999999999999999999\n\n" + note.encode(),
        b"old -1\n\n" + note.encode(),
        b"old \xd9\xa1\n\n" + note.encode(),  # an Arabic-Indic digit one
        b"old 0\n\n",
        b"old 0\n\n\n\n" + sig.encode(),
        b"old 0\n\n" + note.encode()[:-1],
        b"old 0\n\n" + note.replace("\u2014", "-").encode(),
        b"old 0\n\n" + note.replace(" ", "  ").encode(),
        b"old 0\n\n" + note.replace("\n1\n", "\n01\n").encode(),
        b"old 0\n\n" + note.replace("\n1\n", "\n\n1\n").encode(),
        b"old 0\n\n" + (note[:-1] + "\n" + sig * 70).encode(),
        b"old 0\n\n" + note.encode() + b"x" * 70000,
        b"old 0\n" + b"AAAA\n" * 10 + b"\n" + note.encode(),
    ]
    for body in hostile:
        answer = core.add_checkpoint(body)
        assert answer.status in (400, 403, 404), (body[:60], answer)
    assert core.state.latest(ORIGIN).size == 0


def test_the_independent_witness_shares_no_code_with_the_service() -> None:
    import ast

    source = (ROOT / "tests" / "independent_witness" / "witness.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"cryptography"}, imported
