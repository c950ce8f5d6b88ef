"""The log's signing key: made on first start, kept in the data directory (0600)."""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from app.ledger.checkpoint import (
    generate_signer,
    parse_signer_key,
    sign_note,
    verifier_key_string,
)

SIGNER_FILE = "log-signer.key"
VERIFIER_FILE = "log-verifier.key"


class KeyFileError(RuntimeError):
    """The key file is unsafe or belongs to another log."""


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs this log's checkpoints; the private key never leaves this object."""

    name: str
    verifier_key: str
    # Kept out of repr so that no log line or traceback ever prints it.
    _signer_key: str = field(repr=False)

    def sign(self, text: str) -> str:
        """A C2SP signed note of `text`."""
        return sign_note(text, self._signer_key)


def _create_key(data_dir: Path, origin: str) -> None:
    """Make the key, unless another process (a sibling worker) makes it first.

    The key is written whole to a private temporary file and then linked into
    place, which fails if the file exists: whoever reads the key file reads a
    complete key, and only one key is ever made.
    """
    signer_key, verifier_key = generate_signer(origin)
    temporary = data_dir / f".{SIGNER_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    # Created 0600 from the start: never readable by others, not even briefly.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(signer_key + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, data_dir / SIGNER_FILE)
        except FileExistsError:
            return  # another process made the key; it writes the verifier file
    finally:
        temporary.unlink()
    public = data_dir / f".{VERIFIER_FILE}.{os.getpid()}"
    public.write_text(verifier_key + "\n")
    public.replace(data_dir / VERIFIER_FILE)


def load_or_create_signer(data_dir: Path, origin: str) -> Signer:
    """The signer of log `origin`, generating its key on first start."""
    path = data_dir / SIGNER_FILE
    if not path.exists():
        _create_key(data_dir, origin)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} 的权限为 {mode:o}，私钥文件只能由服务账户读取（0600）")
    signer_key = path.read_text().strip()
    parsed = parse_signer_key(signer_key)
    if parsed.name != origin:
        raise KeyFileError(f"{path} 是日志“{parsed.name}”的密钥，而本服务的日志名为“{origin}”")
    public = parsed.private_key.public_key().public_bytes_raw()
    return Signer(origin, verifier_key_string(origin, public), signer_key)
