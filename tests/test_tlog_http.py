"""The log served per C2SP tlog-tiles under /tlog/, read as a tiles client would.

The checks recompute everything from the served bytes with the RFC 6962
formulas written out here (not the service's merkle module): the entries in
the bundles hash to the level-0 tiles, the tiles fold to the signed root.
"""

from __future__ import annotations

import gzip
import hashlib
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.ledger import store
from app.ledger.checkpoint import open_note, parse_checkpoint
from app.main import create_app


def _append(factory: sessionmaker[Session], count: int, prefix: str) -> None:
    """`count` entries in one transaction (one checkpoint is signed after it)."""
    with factory() as session:
        for i in range(count):
            store.append(
                session,
                {"kind": "inspection", "at": "2025-06-01T00:00:00Z", "note": f"{prefix}-{i}"},
            )
        session.commit()


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 2.1 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _sha(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _split(bundle: bytes) -> list[bytes]:
    out, at = [], 0
    while at < len(bundle):
        n = int.from_bytes(bundle[at : at + 2], "big")
        out.append(bundle[at + 2 : at + 2 + n])
        at += 2 + n
    assert at == len(bundle)
    return out


def _checkpoint(client: TestClient) -> tuple[int, bytes, httpx.Response]:
    response = client.get("/tlog/checkpoint")
    key = client.get("/api/v1/log/key").text.strip()
    body = parse_checkpoint(open_note(response.text, [key]))
    return body.size, body.root, response


@pytest.fixture
def log_of_300(client: TestClient) -> TestClient:
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    _append(factory, 300, "a")
    return client


def test_checkpoint_headers(log_of_300: TestClient) -> None:
    client = log_of_300
    size, _, response = _checkpoint(client)
    assert size == 300
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=5"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.text == client.get("/api/v1/log/checkpoint").text


def test_tiles_and_bundles_hash_to_the_signed_root(log_of_300: TestClient) -> None:
    client = log_of_300
    size, root, _ = _checkpoint(client)
    full = client.get("/tlog/tile/0/000")
    partial = client.get("/tlog/tile/0/001.p/44")
    upper = client.get("/tlog/tile/1/000.p/1")
    for response, length in ((full, 8192), (partial, 44 * 32), (upper, 32)):
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/octet-stream"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["access-control-allow-origin"] == "*"
        assert len(response.content) == length
    leaves = [full.content[i : i + 32] for i in range(0, 8192, 32)]
    leaves += [partial.content[i : i + 32] for i in range(0, 44 * 32, 32)]
    assert _mth(leaves) == root
    # Level 1 holds the hash of the full level-0 tile.
    assert upper.content == _mth(leaves[:256])
    entries = _split(client.get("/tlog/tile/entries/000").content)
    entries += _split(client.get("/tlog/tile/entries/001.p/44").content)
    assert len(entries) == size
    assert [_sha(b"\x00" + e) for e in entries] == leaves
    assert entries[299] == b'{"at":"2025-06-01T00:00:00Z","kind":"inspection","note":"a-299"}'


def test_bundles_are_gzipped_when_asked(log_of_300: TestClient) -> None:
    client = log_of_300
    raw = client.get("/tlog/tile/entries/001.p/44", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert raw.headers["vary"] == "Accept-Encoding"
    with client.stream(
        "GET", "/tlog/tile/entries/001.p/44", headers={"Accept-Encoding": "gzip"}
    ) as zipped:
        assert zipped.headers["content-encoding"] == "gzip"
        body = b"".join(zipped.iter_raw())
    assert gzip.decompress(body) == raw.content
    assert len(body) < len(raw.content)


@pytest.mark.parametrize(
    "path",
    [
        "0/001",  # not full yet
        "0/001.p/45",  # beyond the checkpoint
        "0/001.p/43",  # within it, but a width no checkpoint had is fine: see below
        "1/000",
        "2/000.p/1",
        "entries/001",
        "0/x000/000",  # not canonical
        "0/000.p/0",
        "64/000",
        "0/000/",
        "..%2F..%2Fetc%2Fpasswd",
        "0/%00",
    ],
)
def test_tiles_outside_the_checkpoint_or_malformed_are_not_found(
    log_of_300: TestClient, path: str
) -> None:
    response = log_of_300.get(f"/tlog/tile/{path}")
    if path == "0/001.p/43":
        # An older partial width: immutable contents, a prefix of the wider tile.
        assert response.status_code == 200
        assert response.content == log_of_300.get("/tlog/tile/0/001.p/44").content[: 43 * 32]
        return
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "not_found"
    assert response.headers["access-control-allow-origin"] == "*"
    assert "immutable" not in response.headers.get("cache-control", "")


def test_tiles_grow_with_the_log_and_never_change(log_of_300: TestClient) -> None:
    client = log_of_300
    before = {p: client.get(f"/tlog/tile/{p}").content for p in ("0/000", "0/001.p/44")}
    factory = client.app.state.sessionmaker  # type: ignore[attr-defined]
    _append(factory, 300, "b")
    size, root, _ = _checkpoint(client)
    assert size == 600
    for path, content in before.items():
        assert client.get(f"/tlog/tile/{path}").content == content
    leaves = b"".join(client.get(f"/tlog/tile/0/{p}").content for p in ("000", "001", "002.p/88"))
    assert _mth([leaves[i : i + 32] for i in range(0, len(leaves), 32)]) == root
    upper = client.get("/tlog/tile/1/000.p/2").content
    assert upper[:32] == _mth([before["0/000"][i : i + 32] for i in range(0, 8192, 32)])
    assert upper[:32] == client.get("/tlog/tile/1/000.p/1").content


def test_a_web_page_may_read_the_log(log_of_300: TestClient) -> None:
    preflight = log_of_300.options(
        "/tlog/tile/0/000",
        headers={"Origin": "https://monitor.example", "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-methods"] == "GET, HEAD"
    head = log_of_300.head("/tlog/tile/0/000")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "8192"
    assert head.headers["cache-control"] == "public, max-age=31536000, immutable"
    # Only the log's read prefix: the rest of the API is not opened to other sites.
    other = log_of_300.get("/api/v1/log/checkpoint", headers={"Origin": "https://x.example"})
    assert "access-control-allow-origin" not in other.headers


def test_a_signature_that_fails_after_its_commit_is_retried_in_the_background(
    demo: TestClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between a freeze's commit and its checkpoint's signature:
    the freeze stands (201, not an error for a step that happened), and the checkpoint
    comes a moment later (retried until it works) without another step or a restart."""
    from sqlalchemy.exc import OperationalError

    from tests.factories import WITNESSES, ceremony_time

    signing = store.sign_checkpoint
    failed: list[int] = []

    def lost_connection(session: Session, signer: object) -> store.Checkpoint:
        if len(failed) < 2:  # the signature after the commit, and the first retry
            failed.append(store.size(session))
            raise OperationalError("SELECT size FROM log_head", {}, Exception("server closed"))
        return signing(session, signer)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "sign_checkpoint", lost_connection)
    signed_before = _checkpoint(demo)[0]
    plan = demo.post("/api/v1/plans/from-template/2024-hazchem").json()
    frozen = demo.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    )
    assert frozen.status_code == 201, frozen.text
    with session_factory() as session:
        grown = store.size(session)
    assert failed[0] == grown and grown > signed_before
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and _checkpoint(demo)[0] < grown:
        time.sleep(0.2)
    assert _checkpoint(demo)[0] == grown
    assert failed == [grown, grown]
    last = demo.get(f"/api/v1/log/entries/{grown - 1}")
    assert last.status_code == 200 and last.json()["tree_size"] == grown


def test_readers_never_sign_and_the_next_start_signs_what_was_left(
    client: TestClient, settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    """A worker stopped between a commit and its checkpoint's signature (entries
    committed by sessions without the ledger's after-commit hook): readers serve the
    last checkpoint, answer 503 for a proof of the new entries, and sign nothing;
    the service's next start signs them."""
    _append(client.app.state.sessionmaker, 3, "signed")  # type: ignore[attr-defined]
    assert _checkpoint(client)[0] == 3
    _append(session_factory, 2, "stopped")
    for _ in range(3):
        assert _checkpoint(client)[0] == 3
        assert client.get("/api/v1/log/checkpoint").text.split("\n")[1] == "3"
        assert client.get("/api/v1/log/entries/2").status_code == 200
        pending = client.get("/api/v1/log/entries/4")
        assert pending.status_code == 503, pending.text
        assert pending.json()["code"] == "log_checkpoint_pending"
        assert pending.headers["retry-after"] == "1"
        assert "尚未包含" in pending.json()["detail"]
    with session_factory() as session:
        signed = session.scalars(text("SELECT size FROM log_checkpoints ORDER BY size")).all()
    assert 5 not in signed and signed[-1] == 3
    with TestClient(create_app(settings)) as restarted:
        assert _checkpoint(restarted)[0] == 5
        assert restarted.get("/api/v1/log/entries/4").json()["tree_size"] == 5
