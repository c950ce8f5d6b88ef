"""A C2SP tlog-witness written apart from the service: the standard library and
`cryptography` only, nothing of `app`. The client is tested against it, so that
the service and its own witness cannot share a misreading of the spec.

    python -m tests.independent_witness.witness PORT LOG_VKEY   (prints its vkey)
"""

from __future__ import annotations

import base64
import hashlib
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DASH = "\u2014"


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def consistent(m: int, n: int, proof: list[bytes], old_root: bytes, new_root: bytes) -> bool:
    """RFC 9162 section 2.1.4.2, step by step."""
    if m == n:
        return not proof and old_root == new_root
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:  # m is a power of two: prepend the first root
        proof = [old_root] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


class IndependentWitness:
    """State in memory, one lock around check-and-update."""

    def __init__(self, name: str, log_vkey: str) -> None:
        self.name = name
        self.private = Ed25519PrivateKey.generate()
        public = self.private.public_key().public_bytes_raw()
        self.key_id = _h(name.encode() + b"\n\x04" + public)[:4]
        encoded = base64.b64encode(b"\x04" + public).decode()
        self.vkey = f"{name}+{self.key_id.hex()}+{encoded}"
        log_name, log_id, log_key = log_vkey.split("+", 2)
        raw = base64.b64decode(log_key)
        assert raw[0] == 1 and _h(log_name.encode() + b"\n" + raw)[:4].hex() == log_id
        self.origin, self.log_id = log_name, bytes.fromhex(log_id)
        self.log_key = Ed25519PublicKey.from_public_bytes(raw[1:])
        self.size, self.root = 0, _h(b"")
        self.lock = threading.Lock()
        self.requests: list[bytes] = []
        # Misbehaviours a test may switch on: sign with another key, or be slow.
        self.wrong_key = False
        self.delay = 0.0
        self.clock_skew = 0

    def handle(self, body: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for one add-checkpoint request."""
        self.requests.append(body)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return 400, "text/plain", b"utf-8\n"
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old ") or len(lines) > 64:
            return 400, "text/plain", b"request\n"
        old_text = lines[0][4:]
        if not old_text.isdigit() or (old_text != "0" and old_text[0] == "0"):
            return 400, "text/plain", b"old\n"
        old = int(old_text)
        try:
            proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
        except ValueError:
            return 400, "text/plain", b"proof\n"
        body_text, sep, sigs = note.rpartition("\n\n")
        body_text += "\n"
        checkpoint = body_text.split("\n")
        if not sep or len(checkpoint) < 4:
            return 400, "text/plain", b"checkpoint\n"
        origin, size_text, root_b64 = checkpoint[:3]
        if origin != self.origin:
            return 404, "text/plain", b"unknown origin\n"
        verified = False
        for line in sigs.rstrip("\n").split("\n"):
            name, _, blob_b64 = line.removeprefix(DASH + " ").partition(" ")
            blob = base64.b64decode(blob_b64)
            if name == self.origin and blob[:4] == self.log_id:
                try:
                    self.log_key.verify(blob[4:], body_text.encode())
                except InvalidSignature:
                    return 403, "text/plain", b"bad signature\n"
                verified = True
        if not verified:
            return 403, "text/plain", b"unsigned\n"
        size, root = int(size_text), base64.b64decode(root_b64)
        if old > size:
            return 400, "text/plain", b"old > size\n"
        with self.lock:
            if old != self.size:
                return 409, "text/x.tlog.size", f"{self.size}\n".encode()
            if size == 0 and root != _h(b""):
                return 422, "text/plain", b"empty root\n"
            if old == 0 and proof:
                return 422, "text/plain", b"proof from zero\n"
            if old and not consistent(old, size, proof, self.root, root):
                return 422, "text/plain", b"inconsistent\n"
            self.size, self.root = size, root
            stamp = int(time.time()) + self.clock_skew
            message = f"cosignature/v1\ntime {stamp}\n".encode() + body_text.encode()
            time.sleep(self.delay)
            signer = Ed25519PrivateKey.generate() if self.wrong_key else self.private
            signature = signer.sign(message)
            blob = self.key_id + struct.pack(">Q", stamp) + signature
            line = f"{DASH} {self.name} {base64.b64encode(blob).decode()}\n"
            return 200, "text/plain; charset=utf-8", line.encode()


def serve(witness: IndependentWitness, port: int = 0) -> ThreadingHTTPServer:
    """A real HTTP server for `witness` on 127.0.0.1 (in a daemon thread)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if self.path != "/witness/add-checkpoint":
                status, kind, answer = 404, "text/plain", b"no such path\n"
            else:
                status, kind, answer = witness.handle(body)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    w = IndependentWitness("independent.example/w", sys.argv[2])
    print(w.vkey, flush=True)
    serve(w, int(sys.argv[1])).serve_forever()
