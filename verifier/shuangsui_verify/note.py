"""C2SP signed notes, checkpoints and cosignatures, parsed strictly and verified.

signed-note: text ending in a newline, a blank line, then one or more lines
"— <name> base64(key id[4] || signature)"; valid UTF-8, no control characters
but newline; names non-empty without spaces or "+". tlog-checkpoint: origin,
tree size (ASCII decimal, no leading zeroes), base64 root of 32 bytes, then
non-empty extension lines. tlog-cosignature (cosignature/v1): type 0x04, the
signature is key id || u64 timestamp || Ed25519 over "cosignature/v1\\ntime
<t>\\n" followed by the checkpoint text. Anything else is refused (ValueError).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

ED25519, COSIGNATURE_V1 = 0x01, 0x04
SIGNATURE_PREFIX = "\u2014 "
MAX_SIGNATURES = 64  # the spec asks for at least 16
MAX_NOTE_BYTES = 1 << 20
MAX_TIMESTAMP = 2**63 - 1


class NoteError(ValueError):
    """A malformed note, key or checkpoint, or a signature that does not verify."""


def strict_b64(text: str) -> bytes:
    """Standard base64 (RFC 4648 section 4), padded, in its one canonical spelling."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise NoteError(f"invalid base64 {text[:40]!r}") from exc
    if base64.b64encode(data).decode() != text:
        raise NoteError(f"non-canonical base64 {text[:40]!r}")
    return data


def decimal(text: str, what: str) -> int:
    """An ASCII decimal without leading zeroes (unless it is 0), below 2**63."""
    if not text or not text.isascii() or not text.isdigit() or (text != "0" and text[0] == "0"):
        raise NoteError(f"{what} is not a plain decimal: {text[:40]!r}")
    value = int(text)
    if value > MAX_TIMESTAMP:
        raise NoteError(f"{what} is too large")
    return value


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name[:60]!r}")


@dataclass(frozen=True, slots=True)
class VerifierKey:
    """A vkey: "<name>+<hex key id>+base64(type || public key)"."""

    name: str
    key_id: bytes
    kind: int
    public: bytes
    text: str


def parse_vkey(text: str, *, kind: int | None = None) -> VerifierKey:
    """A verifier key of type Ed25519 (0x01) or cosignature/v1 (0x04)."""
    name, plus, rest = text.partition("+")
    hash_hex, plus2, key_b64 = rest.partition("+")
    if not plus or not plus2:
        raise NoteError(f"malformed verifier key {text[:60]!r}")
    check_name(name)
    if len(hash_hex) != 8 or any(c not in "0123456789abcdef" for c in hash_hex):
        raise NoteError("the verifier key's id is not 8 lowercase hex digits")
    raw = strict_b64(key_b64)
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("the verifier key is not an Ed25519 key")
    if kind is not None and raw[0] != kind:
        raise NoteError(f"the verifier key {name} has type {raw[0]:#04x}, {kind:#04x} expected")
    if hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex() != hash_hex:
        raise NoteError(f"the verifier key id of {name} does not match its key")
    return VerifierKey(name, bytes.fromhex(hash_hex), raw[0], raw[1:], text)


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    blob: bytes  # after the key id


@dataclass(frozen=True, slots=True)
class Note:
    text: str  # including its final newline
    signatures: tuple[Signature, ...]


def parse_note(note: str) -> Note:
    """Split a signed note into its text and signature lines, refusing anything malformed."""
    if len(note.encode("utf-8", "surrogatepass")) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    if any(c < " " and c != "\n" for c in note) or any(0xD800 <= ord(c) < 0xE000 for c in note):
        raise NoteError("the note holds a control character or invalid UTF-8")
    text, sep, block = note.rpartition("\n\n")
    if not sep or not text or not block.endswith("\n"):
        raise NoteError("malformed note: no text or no signature block")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"the note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line[:60]!r}")
        name, space, blob_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        check_name(name)
        blob = strict_b64(blob_b64) if space else b""
        if len(blob) < 5:
            raise NoteError(f"malformed signature by {name[:60]!r}")
        signatures.append(Signature(name, blob[:4], blob[4:]))
    return Note(text + "\n", tuple(signatures))


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: str) -> Checkpoint:
    """A tlog-checkpoint note text: origin, size, root, then non-empty extension lines."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint has at least three lines")
    lines.pop()
    if any(not line for line in lines):
        raise NoteError("a checkpoint line is empty")
    root = strict_b64(lines[2])
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not 32 bytes")
    return Checkpoint(lines[0], decimal(lines[1], "tree size"), root, tuple(lines[3:]))


def _ed25519_ok(public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


def matching(note: Note, key: VerifierKey) -> list[Signature]:
    return [s for s in note.signatures if s.name == key.name and s.key_id == key.key_id]


def verify_signed_by(note: Note, keys: list[VerifierKey]) -> list[VerifierKey]:
    """The Ed25519 keys that signed the note. A known key's bad signature rejects it."""
    signed = []
    for key in keys:
        for signature in matching(note, key):
            if not _ed25519_ok(key.public, signature.blob, note.text.encode()):
                raise NoteError(f"the signature by {key.name} does not verify")
            signed.append(key)
    return signed


def cosignature_time(note: Note, key: VerifierKey) -> int | None:
    """The time of the key's valid cosignature/v1 on the note, None if it has none."""
    found = None
    for signature in matching(note, key):
        if len(signature.blob) != 8 + 64:
            raise NoteError(f"the cosignature by {key.name} is not 72 bytes")
        timestamp = int.from_bytes(signature.blob[:8], "big")
        if timestamp > MAX_TIMESTAMP:
            raise NoteError(f"the cosignature by {key.name} has an invalid time")
        message = f"cosignature/v1\ntime {timestamp}\n{note.text}".encode()
        if not _ed25519_ok(key.public, signature.blob[8:], message):
            raise NoteError(f"the cosignature by {key.name} does not verify")
        found = timestamp
    return found
