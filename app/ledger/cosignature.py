"""C2SP tlog-cosignature `cosignature/v1`: timestamped Ed25519 cosignatures — pure.

A cosignature is a note signature line on a checkpoint:

    — <cosigner name> base64(key id[4] || timestamp (u64, big-endian) || Ed25519 signature[64])

key id = SHA-256(name || "\\n" || 0x04 || public key)[:4], and the signed message is

    cosignature/v1\\n
    time <timestamp>\\n
    <the checkpoint's note text, final newline included, no signature lines>

>>> signer, vkey = generate_cosigner("witness.example/w1")
>>> line = cosign(signer, "example.com/log\\n1\\n" + "A" * 43 + "=\\n", 1679315147)
>>> verify_line(parse_cosigner_vkey(vkey), "example.com/log\\n1\\n" + "A" * 43 + "=\\n", line)
1679315147
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG_COSIGNATURE_V1 = b"\x04"
SIGNATURE_PREFIX = "\u2014 "  # em dash and a space
# "It MUST NOT exceed 2^63 - 1".
MAX_TIMESTAMP = 2**63 - 1


class CosignatureError(ValueError):
    """A malformed cosigner key or cosignature line, or one that does not verify."""


def _check_name(name: str) -> None:
    # signed-note: non-empty, no Unicode spaces, no plus.
    if not name or "+" in name or any(c.isspace() for c in name):
        raise CosignatureError(f"invalid key name {name!r}")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise CosignatureError(f"invalid key name {name!r}")


def _unb64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CosignatureError("bad base64") from exc


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def key_id(name: str, public_key: bytes) -> bytes:
    """SHA-256(name || "\\n" || 0x04 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + ALG_COSIGNATURE_V1 + public_key).digest()[:4]


def signed_message(checkpoint_text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header, time line, the checkpoint's note text."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"timestamp {timestamp} out of range")
    if not checkpoint_text.endswith("\n"):
        raise CosignatureError("checkpoint text must end in a newline")
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


@dataclass(frozen=True, slots=True)
class Cosigner:
    """A cosigner as a client knows it: name, key id, public key."""

    name: str
    key_id: bytes
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The verifier key: name+hex(key id)+base64(0x04 || public key)."""
        return f"{self.name}+{self.key_id.hex()}+{_b64(ALG_COSIGNATURE_V1 + self.public_key)}"


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A cosigner's private key; never printed."""

    name: str
    key_id: bytes
    private_key: Ed25519PrivateKey = field(repr=False)

    @property
    def cosigner(self) -> Cosigner:
        public = self.private_key.public_key().public_bytes_raw()
        return Cosigner(self.name, self.key_id, public)


def parse_cosigner_vkey(text: str) -> Cosigner:
    """A cosigner from its vkey (signature type 0x04)."""
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise CosignatureError("malformed verifier key")
    name, hash_hex, key_b64 = parts
    _check_name(name)
    key = _unb64(key_b64)
    if len(key) != 33 or key[:1] != ALG_COSIGNATURE_V1:
        raise CosignatureError("not an Ed25519 cosignature/v1 verifier key (type 0x04)")
    if len(hash_hex) != 8 or hash_hex != hash_hex.lower():
        raise CosignatureError("malformed key id")
    public = key[1:]
    if key_id(name, public).hex() != hash_hex:
        raise CosignatureError("verifier key id does not match")
    return Cosigner(name, bytes.fromhex(hash_hex), public)


def cosigner_key_string(name: str, seed: bytes) -> str:
    """ "PRIVATE+KEY+name+hex(key id)+base64(0x04 || seed)"."""
    _check_name(name)
    public = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    return f"PRIVATE+KEY+{name}+{key_id(name, public).hex()}+{_b64(ALG_COSIGNATURE_V1 + seed)}"


def parse_cosigner_key(text: str) -> CosignerKey:
    """A cosigner's private key from its "PRIVATE+KEY+..." string."""
    parts = text.split("+", 4)
    if len(parts) != 5 or parts[0] != "PRIVATE" or parts[1] != "KEY":
        raise CosignatureError("malformed cosigner key")
    name, hash_hex, key_b64 = parts[2], parts[3], parts[4]
    _check_name(name)
    key = _unb64(key_b64)
    if len(key) != 33 or key[:1] != ALG_COSIGNATURE_V1:
        raise CosignatureError("malformed cosigner key")
    private = Ed25519PrivateKey.from_private_bytes(key[1:])
    if key_id(name, private.public_key().public_bytes_raw()).hex() != hash_hex:
        raise CosignatureError("cosigner key id does not match")
    return CosignerKey(name, bytes.fromhex(hash_hex), private)


def generate_cosigner(name: str) -> tuple[str, str]:
    """A new (private key string, vkey)."""
    secret = cosigner_key_string(name, Ed25519PrivateKey.generate().private_bytes_raw())
    return secret, parse_cosigner_key(secret).cosigner.vkey


def cosign(key: CosignerKey | str, checkpoint_text: str, timestamp: int) -> str:
    """The cosignature line (ending in a newline) over a checkpoint's note text."""
    if isinstance(key, str):
        key = parse_cosigner_key(key)
    if timestamp == 0:
        raise CosignatureError("a cosignature's timestamp must not be zero")
    signature = key.private_key.sign(signed_message(checkpoint_text, timestamp))
    blob = key.key_id + struct.pack(">Q", timestamp) + signature
    return f"{SIGNATURE_PREFIX}{key.name} {_b64(blob)}\n"


@dataclass(frozen=True, slots=True)
class SignatureLine:
    """One note signature line, split: name, key id, the rest of the blob."""

    name: str
    key_id: bytes
    payload: bytes
    line: str  # the line itself, newline included


def parse_line(line: str) -> SignatureLine:
    """A note signature line ("— name base64\\n")."""
    if not line.startswith(SIGNATURE_PREFIX) or not line.endswith("\n"):
        raise CosignatureError("malformed signature line")
    name, sep, blob_b64 = line[len(SIGNATURE_PREFIX) : -1].partition(" ")
    if not sep or " " in blob_b64:
        raise CosignatureError("malformed signature line")
    _check_name(name)
    blob = _unb64(blob_b64)
    if len(blob) < 5:
        raise CosignatureError("signature too short")
    return SignatureLine(name, blob[:4], blob[4:], line)


def verify_line(cosigner: Cosigner, checkpoint_text: str, line: str | SignatureLine) -> int:
    """The timestamp of a valid cosignature/v1 line by `cosigner`; CosignatureError otherwise."""
    parsed = parse_line(line) if isinstance(line, str) else line
    if parsed.name != cosigner.name or parsed.key_id != cosigner.key_id:
        raise CosignatureError("not a signature by this cosigner")
    if len(parsed.payload) != 8 + 64:
        raise CosignatureError("a cosignature/v1 is 8 + 64 bytes after the key id")
    (timestamp,) = struct.unpack(">Q", parsed.payload[:8])
    if timestamp > MAX_TIMESTAMP or timestamp == 0:
        raise CosignatureError("cosignature timestamp out of range")
    try:
        Ed25519PublicKey.from_public_bytes(cosigner.public_key).verify(
            parsed.payload[8:], signed_message(checkpoint_text, timestamp)
        )
    except InvalidSignature as exc:
        raise CosignatureError(f"cosignature by {cosigner.name} does not verify") from exc
    return int(timestamp)


def split_lines(text: str) -> list[str]:
    """The lines of a signature block (each with its newline); CosignatureError if it is not one."""
    if not text.endswith("\n"):
        raise CosignatureError("signature lines must end in a newline")
    return [line + "\n" for line in text[:-1].split("\n")]
