"""C2SP tlog-checkpoint bodies in C2SP signed notes (Ed25519), as Go's
golang.org/x/mod/sumdb/note writes and reads them.

    <origin>\\n<tree size>\\n<base64 root hash>\\n        the checkpoint (note text)
    \\n
    — <key name> base64(key hash[4] || Ed25519 signature[64])\\n

A key hash is the first 4 bytes of SHA-256(name || "\\n" || 0x01 || public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_ED25519 = b"\x01"
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space


class NoteError(ValueError):
    """A malformed key or note, or a signature that does not verify."""


def _check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise NoteError(f"invalid key name {name!r}")


def key_hash(name: str, public_key: bytes) -> bytes:
    """The 4-byte key id of a named Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public_key).digest()[:4]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NoteError("bad base64") from exc


def verifier_key_string(name: str, public_key: bytes) -> str:
    """ "name+hash+base64(0x01||public key)"."""
    return f"{name}+{key_hash(name, public_key).hex()}+{_b64(ALG_ED25519 + public_key)}"


def signer_key_string(name: str, seed: bytes) -> str:
    """ "PRIVATE+KEY+name+hash+base64(0x01||seed)"."""
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return f"PRIVATE+KEY+{name}+{key_hash(name, public).hex()}+{_b64(ALG_ED25519 + seed)}"


@dataclass(frozen=True, slots=True)
class Verifier:
    name: str
    key_id: bytes
    public_key: Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class NoteSigner:
    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey


def parse_verifier_key(text: str) -> Verifier:
    """A verifier from its "name+hash+key" string."""
    name, _, rest = text.partition("+")
    hash_hex, _, key_b64 = rest.partition("+")
    _check_name(name)
    key = _unb64(key_b64)
    if len(key) != 33 or key[:1] != ALG_ED25519 or len(hash_hex) != 8:
        raise NoteError("malformed verifier key")
    public = key[1:]
    if key_hash(name, public).hex() != hash_hex:
        raise NoteError("verifier key hash does not match")
    return Verifier(name, bytes.fromhex(hash_hex), Ed25519PublicKey.from_public_bytes(public))


def parse_signer_key(text: str) -> NoteSigner:
    """A signer from its "PRIVATE+KEY+name+hash+key" string."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise NoteError("malformed signer key")
    name, hash_hex, key_b64 = parts[2], parts[3], parts[4]
    _check_name(name)
    key = _unb64(key_b64)
    if len(key) != 33 or key[:1] != ALG_ED25519:
        raise NoteError("malformed signer key")
    private = Ed25519PrivateKey.from_private_bytes(key[1:])
    if key_hash(name, private.public_key().public_bytes_raw()).hex() != hash_hex:
        raise NoteError("signer key hash does not match")
    return NoteSigner(name, bytes.fromhex(hash_hex), private)


def generate_signer(name: str) -> tuple[str, str]:
    """A new (signer key string, verifier key string)."""
    _check_name(name)
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes_raw()
    return signer_key_string(name, seed), verifier_key_string(
        name, private.public_key().public_bytes_raw()
    )


def sign_note(text: str, signer_key: str, *more_keys: str) -> str:
    """The signed note of `text` (which must end in a newline), one signature line per key.

    A log whose key is being replaced signs with the old and the new key: a reader
    that knows either accepts the note.
    """
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and hold no blank line")
    lines = []
    for key in (signer_key, *more_keys):
        signer = parse_signer_key(key)
        signature = signer.private_key.sign(text.encode())
        lines.append(f"{SIGNATURE_PREFIX}{signer.name} {_b64(signer.key_id + signature)}\n")
    return f"{text}\n{''.join(lines)}"


def open_note(note: str, verifier_keys: list[str]) -> str:
    """The text of a note signed by at least one of the given keys; NoteError otherwise."""
    text, sep, signatures = note.rpartition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise NoteError("malformed note: no signature block")
    text += "\n"
    verifiers = [parse_verifier_key(k) for k in verifier_keys]
    for line in signatures[:-1].split("\n"):
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError(f"malformed signature line {line!r}")
        name, _, blob_b64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
        blob = _unb64(blob_b64)
        if len(blob) < 5:
            raise NoteError("malformed signature")
        for v in verifiers:
            if v.name == name and v.key_id == blob[:4]:
                try:
                    v.public_key.verify(blob[4:], text.encode())
                except InvalidSignature as exc:
                    raise NoteError(f"invalid signature by {name}") from exc
                return text
    raise NoteError("no signature by a known key")


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    """The body of a C2SP tlog-checkpoint."""
    return f"{origin}\n{size}\n{_b64(root)}\n"


@dataclass(frozen=True, slots=True)
class ParsedCheckpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...]


def parse_checkpoint(text: str) -> ParsedCheckpoint:
    """Origin, size and root of a checkpoint body."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("malformed checkpoint")
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("malformed checkpoint")
    root = _unb64(root_b64)
    if len(root) != 32:
        raise NoteError("checkpoint root is not 32 bytes")
    return ParsedCheckpoint(origin, int(size_text), root, tuple(lines[3:-1]))
