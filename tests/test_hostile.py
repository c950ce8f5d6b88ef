"""Hostile clients against a real `shuangsui serve`, on loopback, on both databases.

Each attack is what a client on the same network could do with no key (or
with a key and bad intent): hold connections open mid-request, send bodies
nobody asked for, send giant headers. Every test checks that the attack gets
a clear answer, that other clients are served meanwhile, and that nothing was
written. Attacks are bounded in count and time.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.test_concurrency import ROOT, Server, free_port, prepare_service, service_env

# Short deadlines, so a test waits seconds, not the production defaults.
TIMEOUTS = {
    "SHUANGSUI_BODY_TIMEOUT_SECONDS": "1",
    "SHUANGSUI_HEADER_TIMEOUT_SECONDS": "2",
}
STALLED = 30  # more than the 20 requests the server lets work at once


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    """`shuangsui serve` with two workers, and an operator's and a witness's key."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    keys = prepare_service(db_url, data_dir, demo=False)
    port = free_port()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=service_env(db_url, data_dir) | TIMEOUTS,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{server.base}/readyz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")
    try:
        yield server, keys
    finally:
        server.stop()


def _connect(server: Server) -> socket.socket:
    host, port = server.base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, timeout: float = 10) -> bytes:
    """Everything the server sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    received = b""
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _others_are_served(server: Server, keys: dict[str, str]) -> None:
    """Public, operational and authenticated requests all answer while the attack lasts."""
    operator = {"X-API-Key": keys["operator"]}
    with httpx.Client(base_url=server.base, timeout=5) as client:
        for path, headers in [
            ("/readyz", {}),
            ("/metrics", {}),
            ("/api/v1/draws", {}),
            ("/draws", {}),
            ("/api/v1/plans", operator),
        ]:
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.text)


def _plans(server: Server, keys: dict[str, str]) -> int:
    listed = httpx.get(
        f"{server.base}/api/v1/plans", headers={"X-API-Key": keys["operator"]}, timeout=10
    )
    assert listed.status_code == 200, listed.text
    body = listed.json()
    return int(body["total"]) if isinstance(body, dict) else len(body)


def test_clients_that_stop_sending_their_body_hold_nothing(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, keys = served
    length = {"Content-Type": "application/json", "Content-Length": "1000"}
    stalled = []
    for n in range(STALLED):
        # Half with an operator's key (admitted, then stall), half anonymous (refused).
        headers = length | ({"X-API-Key": keys["operator"]} if n % 2 else {})
        sock = _connect(server)
        sock.sendall(_head("POST", "/api/v1/plans", headers) + b'{"title": "')
        stalled.append((n, sock))
    try:
        _others_are_served(server, keys)
        for n, sock in stalled:
            answer = _answer(sock)
            if n % 2:
                assert _status(answer) == 408, answer[:300]
                assert "请求体发送中断".encode() in answer
            else:
                assert _status(answer) == 401, answer[:300]
                assert b"api_key_required" in answer
    finally:
        for _, sock in stalled:
            sock.close()
    _others_are_served(server, keys)
    assert _plans(server, keys) == 0


def test_an_anonymous_upload_is_refused_before_it_is_read(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, keys = served
    size = 150 * 1024 * 1024
    headers = {
        "Content-Type": "multipart/form-data; boundary=x",
        "Content-Length": str(size),
    }
    sock = _connect(server)
    try:
        sock.sendall(_head("POST", "/api/v1/enterprises/import", headers))
        sent = 0
        sock.settimeout(0.2)
        answer = b""
        # Send on while the server lets us; it answers and closes long before 150 MB.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while sent < size and not answer:
                sock.sendall(b"x" * 65536)
                sent += 65536
                with contextlib.suppress(TimeoutError):
                    answer = sock.recv(65536)
        answer += _answer(sock, timeout=5)
    finally:
        sock.close()
    assert _status(answer) == 401, answer[:300]
    assert b"api_key_required" in answer and b"connection: close" in answer.lower()
    assert sent < 10 * 1024 * 1024
    _others_are_served(server, keys)


def test_a_slow_authenticated_upload_gets_408_and_writes_nothing(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, keys = served
    head = _head(
        "POST",
        "/api/v1/enterprises/import",
        {
            "X-API-Key": keys["operator"],
            "Content-Type": "multipart/form-data; boundary=x",
            "Content-Length": "100000",
        },
    )
    socks = []
    for _ in range(STALLED):
        sock = _connect(server)
        sock.sendall(head + b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.csv"')
        socks.append(sock)
    try:
        _others_are_served(server, keys)
        assert all(_status(_answer(sock)) == 408 for sock in socks)
    finally:
        for sock in socks:
            sock.close()
    enterprises = httpx.get(
        f"{server.base}/api/v1/enterprises", headers={"X-API-Key": keys["operator"]}, timeout=10
    )
    assert enterprises.json()["total"] == 0


def test_giant_headers_are_refused_with_431(served: tuple[Server, dict[str, str]]) -> None:
    server, keys = served
    one_big = _connect(server)
    many = _connect(server)
    long_line = _connect(server)
    try:
        # A 200 MB header is never taken in: the server answers within the first few KB.
        one_big.sendall(b"GET /api/v1/draws HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(200 * 16):  # up to 200 MB, 64 KB at a time
                one_big.sendall(b"a" * 65536)
        many.sendall(
            b"GET /api/v1/draws HTTP/1.1\r\nHost: x\r\n"
            + b"".join(f"X-H{n}: {'v' * 100}\r\n".encode() for n in range(400))
            + b"\r\n"
        )
        long_line.sendall(b"GET /draws?" + b"q" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        for sock in (one_big, many, long_line):
            answer = _answer(sock)
            assert _status(answer) == 431, answer[:300]
    finally:
        for sock in (one_big, many, long_line):
            sock.close()
    # A request with ordinary headers still passes.
    normal = httpx.get(f"{server.base}/api/v1/draws", headers={"X-Note": "n" * 4000}, timeout=5)
    assert normal.status_code == 200
    _others_are_served(server, keys)


def test_connections_that_send_no_headers_are_closed(
    served: tuple[Server, dict[str, str]],
) -> None:
    server, keys = served
    idle = _connect(server)
    slow = _connect(server)
    try:
        slow.sendall(b"GET /api/v1/draws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for _ in range(3):  # a header byte now and then, as a slowloris does
            slow.sendall(b"X")
            time.sleep(0.5)
        _others_are_served(server, keys)
        assert _answer(idle) == b""  # closed, after the header timeout, with no answer
        assert _status(_answer(slow)) == 408
    finally:
        idle.close()
        slow.close()


def test_x_actor_as_raw_bytes_on_the_wire(served: tuple[Server, dict[str, str]]) -> None:
    server, keys = served

    def create(actor: bytes) -> bytes:
        sock = _connect(server)
        try:
            head = _head(
                "POST",
                "/api/v1/plans/from-template/2025-training",
                {"X-API-Key": keys["operator"], "Connection": "close"},
            )
            sock.sendall(head[:-2] + b"X-Actor: " + actor + b"\r\n\r\n")
            return _answer(sock)
        finally:
            sock.close()

    assert _status(create(b"\xe7\x8e")) == 400  # not UTF-8
    assert _status(create("王某\u202e".encode())) == 422  # a bidi override
    assert _plans(server, keys) == 0
    assert _status(create("王某".encode())) in (200, 201)  # raw UTF-8
    with httpx.Client(base_url=server.base, headers={"X-API-Key": keys["operator"]}) as api:
        plans = api.get("/api/v1/plans").json()
        plan = (plans["items"] if isinstance(plans, dict) else plans)[0]
        history = api.get(f"/api/v1/plans/{plan['id']}/history").json()["items"]
    assert history[0]["actor"] == "王某（并发经办）"
