"""add-checkpoint exactly as C2SP tlog-witness says, without HTTP: body in, answer out.

The statuses, in the order the spec gives them: 400 malformed request or old
size above the checkpoint's, 404 unknown origin, 403 no valid signature by a
trusted key (or a trusted key's signature that fails), 409 old size not the
size last cosigned (body: that size, text/x.tlog.size), 422 a wrong empty
root, a proof where none belongs, or a proof that does not verify; 200 the
cosignature line, after the new checkpoint is stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from app.ledger import merkle
from app.ledger.checkpoint import Verifier
from app.ledger.cosignature import CosignerKey, cosign
from app.witness.state import Latest, WitnessState

SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
# The spec asks verifiers to accept at least 16 signatures; more than this is refused.
MAX_SIGNATURES = 64
MAX_BODY_BYTES = 64 * 1024
SIGNATURE_PREFIX = "\u2014 "


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    media_type: str = "text/plain; charset=utf-8"


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _decimal(text: str) -> int:
    if not text.isascii() or not text.isdigit() or (text != "0" and text.startswith("0")):
        raise Refused(400, f"not an ASCII decimal without leading zeroes: {text[:30]!r}")
    if len(text) > 19:
        raise Refused(400, "size too large")
    return int(text)


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Refused(400, "bad base64") from exc


@dataclass(frozen=True, slots=True)
class Request:
    old: int
    proof: list[bytes]
    note: str
    text: str  # the checkpoint's note text, final newline included
    signatures: list[str]  # its signature lines, each with its newline
    origin: str
    size: int
    root: bytes


def parse_request(body: bytes) -> Request:
    """The parts of an add-checkpoint body; Refused(400) if it is not one."""
    try:
        decoded = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "not UTF-8") from exc
    if any(ord(c) < 0x20 and c != "\n" for c in decoded):
        raise Refused(400, "control characters")
    head, sep, note = decoded.partition("\n\n")
    if not sep:
        raise Refused(400, "no empty line after the old size and proof")
    lines = head.split("\n")
    if not lines[0].startswith("old "):
        raise Refused(400, "the first line must be the old size")
    old = _decimal(lines[0][4:])
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise Refused(400, "more than 63 consistency proof lines")
    proof = [_b64(line) for line in lines[1:]]
    if any(len(h) != 32 for h in proof):
        raise Refused(400, "a proof line is not a SHA-256 hash")
    text, sep, block = note.rpartition("\n\n")
    if not sep or not block.endswith("\n") or not text:
        raise Refused(400, "the checkpoint is not a signed note")
    text += "\n"
    signatures = [line + "\n" for line in block[:-1].split("\n")]
    if len(signatures) > MAX_SIGNATURES:
        raise Refused(400, "too many signatures")
    for line in signatures:
        if not line.startswith(SIGNATURE_PREFIX) or line.count(" ") != 2:
            raise Refused(400, "malformed signature line")
    body_lines = text.split("\n")[:-1]
    if len(body_lines) < 3 or any(not line for line in body_lines):
        raise Refused(400, "malformed checkpoint")
    root = _b64(body_lines[2])
    if len(root) != 32:
        raise Refused(400, "the root hash is not 32 bytes")
    return Request(old, proof, note, text, signatures, body_lines[0], _decimal(body_lines[1]), root)


def verified_log_signatures(request: Request, trusted: Sequence[Verifier]) -> list[str]:
    """The signature lines of trusted keys, all verified; Refused(403) otherwise."""
    good: list[str] = []
    for line in request.signatures:
        name, _, blob_b64 = line[len(SIGNATURE_PREFIX) : -1].partition(" ")
        blob = _b64(blob_b64)
        for key in trusted:
            if key.name == name and key.key_id == blob[:4]:
                try:
                    key.public_key.verify(blob[4:], request.text.encode())
                except InvalidSignature as exc:
                    raise Refused(403, f"the signature of {name} does not verify") from exc
                good.append(line)
    if not good:
        raise Refused(403, "no signature by a key trusted for this origin")
    return good


class Witness:
    """The witness: its key, the logs it trusts (by origin), its state."""

    def __init__(
        self,
        key: CosignerKey,
        logs: Mapping[str, Sequence[Verifier]],
        state: WitnessState,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.logs = logs
        self.state = state
        self.clock = clock

    def add_checkpoint(self, body: bytes) -> Answer:
        """The answer to a POST <prefix>/add-checkpoint with this body."""
        if len(body) > MAX_BODY_BYTES:
            return Answer(400, "request too large\n")
        try:
            request = parse_request(body)
            trusted = self.logs.get(request.origin)
            if trusted is None:
                raise Refused(404, "unknown origin")
            signatures = verified_log_signatures(request, trusted)
            if request.old > request.size:
                raise Refused(400, "the old size is above the checkpoint's size")
        except Refused as refused:
            return Answer(refused.status, refused.reason + "\n")
        try:
            return self.state.update(
                request.origin, lambda latest: self._decide(request, signatures, latest)
            )
        except Refused as refused:
            # Validly signed but inconsistent: kept, as it may prove the log misbehaved.
            self.state.refused(request.origin, refused.status, refused.reason, body)
            return Answer(refused.status, refused.reason + "\n")

    def _decide(
        self, request: Request, signatures: list[str], latest: Latest
    ) -> tuple[Answer, Latest | None]:
        if request.old != latest.size:
            return Answer(409, f"{latest.size}\n", SIZE_MEDIA_TYPE), None
        if request.size == 0 and request.root != merkle.EMPTY_ROOT:
            raise Refused(422, "a checkpoint of size zero must have the empty tree's root")
        if request.old == 0:
            if request.proof:
                raise Refused(422, "no proof belongs with an old size of zero")
        elif request.old == request.size:
            if request.proof or request.root != latest.root:
                raise Refused(422, "same size, different root hash")
        elif not merkle.verify_consistency(
            request.old, request.size, request.proof, latest.root, request.root
        ):
            raise Refused(422, "the consistency proof does not verify")
        timestamp = max(int(self.clock()), 1)
        line = cosign(self.key, request.text, timestamp)
        note = request.text + "\n" + "".join(signatures) + line
        return Answer(200, line), Latest(request.size, request.root, note)

    def checkpoint(self, origin_hash: str) -> Answer:
        """GET <prefix>/<origin hash>/checkpoint: the latest cosigned checkpoint of a log."""
        for origin in self.logs:
            if hashlib.sha256(origin.encode()).hexdigest() == origin_hash:
                latest = self.state.latest(origin)
                if latest.note is not None:
                    return Answer(200, latest.note)
        return Answer(404, "never cosigned a checkpoint of this log\n")
