"""A draw's result as a C2SP tlog-proof@v1: served, downloaded, and verified offline by
the standalone verifier (alone, beside its bundle, under a witness policy, and
against a checkpoint seen earlier); tampered proofs and forked logs are refused.

Witness cosignatures are made here with `cryptography` from the cosignature/v1
text, not with the service's code."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo_load import load_demo_pool
from tests.auditor import copy_verifier, load_verifier
from tests.factories import ceremony_time, reveal_dice

WITNESSES = ["甲见证人（纪检监察组）", "乙见证人（公证处）"]
HEADER = "c2sp.org/tlog-proof@v1"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _done_draw(client: TestClient, template: str = "2024-hazchem") -> str:
    plan = client.post(f"/api/v1/plans/from-template/{template}").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    reveal_dice(client, frozen["public_id"], "38274619283746529183", WITNESSES)
    public_id: str = frozen["public_id"]
    return public_id


def _demo(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        load_demo_pool(session)
        session.commit()


class Witness:
    """A cosigner as tlog-cosignature describes it: type 0x04 key, timestamped signature."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.private = Ed25519PrivateKey.generate()
        public = self.private.public_key().public_bytes_raw()
        self.key_id = hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
        encoded = _b64(b"\x04" + public)
        self.vkey = f"{name}+{self.key_id.hex()}+{encoded}"

    def cosign(self, note: str, timestamp: int = 1_700_000_000, *, lie: bool = False) -> str:
        body = note[: note.index("\n\n") + 1]
        signed_time = timestamp + 1 if lie else timestamp
        message = f"cosignature/v1\ntime {signed_time}\n{body}".encode()
        blob = self.key_id + timestamp.to_bytes(8, "big") + self.private.sign(message)
        return note + f"\u2014 {self.name} {_b64(blob)}\n"


def _cosign_proof(proof: str, *witnesses: Witness) -> str:
    head, _, note = proof.partition("\n\n")
    for witness in witnesses:
        note = witness.cosign(note)
    return head + "\n\n" + note


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    copy_verifier(folder)
    return subprocess.run(
        [sys.executable, "verify.py", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
        timeout=120,
    )


def test_the_proof_is_a_tlog_proof_of_the_result_entry(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(session_factory)
    public_id = _done_draw(client)
    response = client.get(f"/api/v1/draws/{public_id}/proof")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    head, blank, note = response.text.partition("\n\n")
    lines = head.split("\n")
    assert blank and lines[0] == HEADER
    assert lines[1].startswith("extra ") and lines[2].startswith("index ")
    entry_bytes = base64.b64decode(lines[1].removeprefix("extra "), validate=True)
    entry = json.loads(entry_bytes)
    bundle = client.get(f"/api/v1/draws/{public_id}/bundle").json()
    # The entry is the result entry, byte for byte as the log holds it.
    assert entry["kind"] == "result" and entry["draw"] == public_id
    assert rfc8785.dumps(entry) == entry_bytes
    assert entry["result_hash"] == hashlib.sha256(rfc8785.dumps(bundle["result"])).hexdigest()
    index = int(lines[2].removeprefix("index "))
    logged = client.get(f"/api/v1/log/entries/{index}").json()
    assert base64.b64decode(logged["entry_b64"]) == entry_bytes
    # The checkpoint is the one served, verbatim, and the proof leads to its root.
    assert note == client.get("/api/v1/log/checkpoint").text
    origin, size, root_b64 = note.split("\n")[:3]
    assert response.headers["x-log-index"] == str(index)
    assert response.headers["x-tree-size"] == size
    proof = [base64.b64decode(h, validate=True) for h in lines[3:]]
    verifier = load_verifier()
    assert verifier.verify_inclusion(
        entry_bytes, index, int(size), proof, base64.b64decode(root_b64)
    )

    download = client.get(f"/api/v1/draws/{public_id}/proof.tlog-proof")
    assert download.status_code == 200 and download.text == response.text
    disposition = download.headers["content-disposition"]
    assert f'filename="{public_id}.tlog-proof"' in disposition


def test_a_draw_without_a_result_has_no_proof(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(session_factory)
    plan = client.post("/api/v1/plans/from-template/2024-hazchem").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    for path in ("proof", "proof.tlog-proof"):
        pending = client.get(f"/api/v1/draws/{frozen['public_id']}/{path}")
        assert pending.status_code == 404 and pending.json()["code"] == "not_found", pending.text
        assert "结果条目" in pending.json()["detail"]
        unknown = client.get(f"/api/v1/draws/HY-2099-9999/{path}")
        assert unknown.status_code == 404 and "HY-2099-9999" in unknown.json()["detail"]
    too_long = client.get(f"/api/v1/draws/{'X' * 65}/proof")
    assert too_long.status_code == 422


def test_the_openapi_document_types_the_proof(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path in ("/api/v1/draws/{public_id}/proof", "/api/v1/draws/{public_id}/proof.tlog-proof"):
        operation = document["paths"][path]["get"]
        ok = operation["responses"]["200"]
        assert list(ok["content"]) == ["text/plain"]
        assert ok["content"]["text/plain"]["schema"] == {
            "type": "string",
            "format": "c2sp-tlog-proof-v1",
        }
        assert ok["content"]["text/plain"]["example"].startswith(HEADER + "\n")
        assert "tlog-proof" in ok["description"]
        assert "404" in operation["responses"]
    ids = {
        document["paths"][p]["get"]["operationId"]
        for p in ("/api/v1/draws/{public_id}/proof", "/api/v1/draws/{public_id}/proof.tlog-proof")
    }
    assert ids == {"draws_proof", "draws_proof_download"}


def test_the_verifier_checks_proofs_offline_and_refuses_tampering(
    client: TestClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _demo(session_factory)
    public_id = _done_draw(client)
    key = client.get("/api/v1/log/key").text.strip()
    proof = client.get(f"/api/v1/draws/{public_id}/proof.tlog-proof").text
    bundle = client.get(f"/api/v1/draws/{public_id}/bundle").json()
    folder = tmp_path / "auditor"
    folder.mkdir()
    (folder / "p.tlog-proof").write_text(proof, encoding="utf-8")
    (folder / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")

    alone = _run(folder, "p.tlog-proof", "--key", key)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert f"draw={public_id}" in alone.stdout and "通过 / PASSED" in alone.stdout
    beside = _run(folder, "bundle.json", "--key", key, "--proof", "p.tlog-proof")
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert "✓ 证明中的结果条目即本验证包的结果" in beside.stdout
    no_key = _run(folder, "p.tlog-proof")
    assert no_key.returncode == 2, no_key.stdout

    lines = proof.split("\n")
    entry = json.loads(base64.b64decode(lines[1].removeprefix("extra ")))
    other = dict(entry, result_hash="0" * 64)
    hash_line = next(i for i, line in enumerate(lines) if i > 2 and line)
    flipped = bytearray(base64.b64decode(lines[hash_line]))
    flipped[0] ^= 1
    tampered = {
        "another result": [lines[0], "extra " + _b64(rfc8785.dumps(other)), *lines[2:]],
        "a proof hash": [*lines[:hash_line], _b64(bytes(flipped)), *lines[hash_line + 1 :]],
        "the index": [lines[0], lines[1], "index 0", *lines[3:]],
        "a leading zero": [lines[0], lines[1], lines[2].replace("index ", "index 0"), *lines[3:]],
        "non-canonical base64": [
            *lines[:hash_line],
            lines[hash_line][:-1] + "?",
            *lines[hash_line + 1 :],
        ],
        "the size": [
            *lines[: lines.index("") + 2],
            str(int(lines[lines.index("") + 2]) + 1),
            *lines[lines.index("") + 3 :],
        ],
    }
    for what, changed in tampered.items():
        (folder / "bad.tlog-proof").write_text("\n".join(changed), encoding="utf-8")
        result = _run(folder, "bad.tlog-proof", "--key", key)
        assert result.returncode == 1, (what, result.stdout)
        assert "✗ tlog-proof 证明有效" in result.stdout, (what, result.stdout)
    # A proof of some other draw's result does not vouch for this bundle.
    second = _done_draw(client, "2025-hazchem-cross")
    (folder / "other.tlog-proof").write_text(
        client.get(f"/api/v1/draws/{second}/proof").text, encoding="utf-8"
    )
    mixed = _run(folder, "bundle.json", "--key", key, "--proof", "other.tlog-proof")
    assert mixed.returncode == 1 and "✗ 证明中的结果条目即本验证包的结果" in mixed.stdout


def test_a_policy_asks_for_a_quorum_of_witness_cosignatures(
    client: TestClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _demo(session_factory)
    public_id = _done_draw(client)
    key = client.get("/api/v1/log/key").text.strip()
    proof = client.get(f"/api/v1/draws/{public_id}/proof").text
    bundle = client.get(f"/api/v1/draws/{public_id}/bundle").json()
    a, b, c = Witness("witness.a.example/w1"), Witness("witness.b.example/w"), Witness("c.example")
    folder = tmp_path / "auditor"
    folder.mkdir()
    policy = (
        f"# two of three witnesses\nlog {key}\n\twitness A {a.vkey} https://a.example/\n"
        f"witness B {b.vkey}\nwitness C   {c.vkey}\ngroup two 2 A B C\nquorum two\n"
    )
    (folder / "policy.txt").write_text(policy, encoding="utf-8")

    def verify(text: str, *extra: str) -> subprocess.CompletedProcess[str]:
        (folder / "p.tlog-proof").write_text(text, encoding="utf-8")
        return _run(folder, "p.tlog-proof", "--policy", "policy.txt", *extra)

    two = verify(_cosign_proof(proof, a, c))
    assert two.returncode == 0, two.stdout + two.stderr
    assert "A、C" in two.stdout
    for witnesses in [(), (a,), (a, a), (b, Witness("witness.b.example/w"))]:
        short = verify(_cosign_proof(proof, *witnesses))
        assert short.returncode == 1, (witnesses, short.stdout)
        assert "quorum" in short.stdout
    # A known witness whose cosignature does not verify rejects the checkpoint.
    head, _, note = proof.partition("\n\n")
    lying = head + "\n\n" + b.cosign(a.cosign(c.cosign(note)), lie=True)
    refused = verify(lying)
    assert refused.returncode == 1 and "does not verify" in refused.stdout
    # The bundle's checkpoint is held to the same policy.
    (folder / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    uncosigned = _run(folder, "bundle.json", "--policy", "policy.txt")
    assert uncosigned.returncode == 1 and "✗ 检查点签名有效" in uncosigned.stdout
    bundle["log"]["checkpoint"] = a.cosign(b.cosign(bundle["log"]["checkpoint"]))
    (folder / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    cosigned = _run(folder, "bundle.json", "--policy", "policy.txt")
    assert cosigned.returncode == 0, cosigned.stdout
    assert "未独立指定" not in cosigned.stdout
    # A policy whose log key is another key under the log's name accepts nothing.
    origin = proof.partition("\n\n")[2].split("\n")[0]
    stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    stranger_id = hashlib.sha256(origin.encode() + b"\n\x01" + stranger).digest()[:4]
    encoded = _b64(b"\x01" + stranger)
    other_log = f"{origin}+{stranger_id.hex()}+{encoded}"
    (folder / "policy.txt").write_text(f"log {other_log}\nquorum none\n", encoding="utf-8")
    impostor = verify(proof)
    assert impostor.returncode == 1 and "not signed by a log key" in impostor.stdout
    (folder / "policy.txt").write_text("quorum none\n", encoding="utf-8")
    no_log = verify(proof)
    assert no_log.returncode == 2, no_log.stdout  # no log key at all: unusable input
    # Logs known from elsewhere (--key), witnesses from the policy.
    (folder / "policy.txt").write_text(f"witness A {a.vkey}\nquorum A\n", encoding="utf-8")
    assert verify(_cosign_proof(proof, a), "--key", key).returncode == 0
    assert verify(proof, "--key", key).returncode == 1
    for broken in ["quorum nobody\n", f"witness A {a.vkey}\nwitness A {b.vkey}\nquorum A\n"]:
        (folder / "policy.txt").write_text(broken, encoding="utf-8")
        assert verify(proof).returncode == 2


def test_since_an_earlier_checkpoint_the_log_only_grew(
    client: TestClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    _demo(session_factory)
    first = _done_draw(client)
    earlier = client.get("/api/v1/log/checkpoint").text
    second = _done_draw(client, "2025-hazchem-cross")
    key = client.get("/api/v1/log/key").text.strip()
    bundle = client.get(f"/api/v1/draws/{second}/bundle").json()
    proof = client.get(f"/api/v1/draws/{first}/proof").text
    verifier = load_verifier()
    base = "http://auditor.invalid"
    verifier.fetch = lambda url: client.get(url.removeprefix(base)).content
    (tmp_path / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), "utf-8")
    (tmp_path / "p.tlog-proof").write_text(proof, "utf-8")

    def run(since: str, *args: str) -> tuple[int, str]:
        (tmp_path / "since.txt").write_text(since, "utf-8")
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            code = verifier.main([*args, "--key", key, "--since", str(tmp_path / "since.txt")])
        return code, said.getvalue()

    code, said = run(earlier, str(tmp_path / "bundle.json"), "--log", base)
    assert code == 0, said
    assert "✓ 与此前见过的检查点一致" in said
    # The proof's checkpoint is older than the bundle's: consistency runs either way.
    bundle_note = bundle["log"]["checkpoint"]
    assert run(bundle_note, str(tmp_path / "p.tlog-proof"), "--log", base)[0] == 0
    # Without --log there is no consistency proof to check.
    code, said = run(earlier, str(tmp_path / "bundle.json"))
    assert code == 1 and "needs --log" in said
    # A checkpoint of a fork, signed by the log's own key: the log equivocated.
    origin, size = earlier.split("\n")[:2]
    forged_root = hashlib.sha256(b"another history").digest()
    fork = client.app.state.signer.sign(f"{origin}\n{size}\n{_b64(forged_root)}\n")  # type: ignore[attr-defined]
    code, said = run(fork, str(tmp_path / "bundle.json"), "--log", base)
    assert code == 1 and "✗ 与此前见过的检查点一致" in said, said
    # A checkpoint ahead of the log: the log was rolled back since it was seen.
    ahead = client.app.state.signer.sign(f"{origin}\n{int(size) + 1000}\n{_b64(forged_root)}\n")  # type: ignore[attr-defined]
    code, said = run(ahead, str(tmp_path / "bundle.json"), "--log", base)
    assert code == 1 and "✗ 与此前见过的检查点一致" in said, said
    # An earlier checkpoint not signed by the log proves nothing.
    unsigned = earlier.replace(earlier.split("\n")[2], _b64(forged_root))
    code, said = run(unsigned, str(tmp_path / "bundle.json"), "--log", base)
    assert code == 1 and "✗ 此前的检查点签名有效" in said, said


def test_the_verifier_reads_a_proof_from_its_url(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(session_factory)
    public_id = _done_draw(client)
    key = client.get("/api/v1/log/key").text.strip()
    verifier = load_verifier()
    base = "http://auditor.invalid"
    verifier.fetch = lambda url: client.get(url.removeprefix(base)).content
    for path in ("proof", "proof.tlog-proof"):
        said = io.StringIO()
        with contextlib.redirect_stdout(said):
            code = verifier.main([f"{base}/api/v1/draws/{public_id}/{path}", "--key", key])
        assert code == 0 and f"draw={public_id}" in said.getvalue(), said.getvalue()
