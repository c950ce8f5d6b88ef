"""The log's signing keys, kept in the data directory (0600).

`log-signer.key` signs every checkpoint. During a rotation (`shuangsui log
rotate-key`) `log-signer.next.key` signs alongside it, so that every checkpoint
carries both signatures; when the rotation finishes the next key becomes the key
and the old public key is appended to `log-verifier.retired`, so that the
checkpoints it signed still verify. The service's signer is built by
`app.ledger.guard.open_signer`, which makes a key only for an empty log.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.ledger.checkpoint import (
    generate_signer,
    parse_signer_key,
    sign_note,
    verifier_key_string,
)
from app.ledger.files import write_atomically

if TYPE_CHECKING:
    from app.ledger.kept import Guard

SIGNER_FILE = "log-signer.key"
VERIFIER_FILE = "log-verifier.key"
NEXT_SIGNER_FILE = "log-signer.next.key"
NEXT_VERIFIER_FILE = "log-verifier.next.key"
RETIRED_FILE = "log-verifier.retired"


class KeyFileError(RuntimeError):
    """The key file is unsafe, missing, or belongs to another log (the message says which)."""


@dataclass(frozen=True, slots=True)
class Signer:
    """Signs this log's checkpoints; the private keys never leave this object."""

    name: str
    verifier_key: str
    # Kept out of repr so that no log line or traceback ever prints it.
    _signer_key: str = field(repr=False)
    # The key rotating in (signs alongside), if a rotation is under way.
    next_verifier_key: str | None = None
    _next_signer_key: str | None = field(default=None, repr=False)
    # Keys this log signed with before: old checkpoints verify with them.
    retired: tuple[str, ...] = ()
    # The data directory's copy of the latest checkpoint (app.ledger.kept).
    guard: Guard | None = field(default=None, repr=False, compare=False)

    @property
    def published_keys(self) -> list[str]:
        """The keys that sign new checkpoints: the key, and the next one during a rotation."""
        return [self.verifier_key] + ([self.next_verifier_key] if self.next_verifier_key else [])

    @property
    def known_keys(self) -> list[str]:
        """Every key a checkpoint of this log may be signed with: current and retired."""
        return self.published_keys + list(self.retired)

    def sign(self, text: str) -> str:
        """A C2SP signed note of `text`, signed by the key (and the next one, if rotating)."""
        more = (self._next_signer_key,) if self._next_signer_key else ()
        return sign_note(text, self._signer_key, *more)


def write_private(path: Path, text: str) -> bool:
    """Write a private key file whole, 0600 from the start; False if it exists already.

    The key is written to a private temporary file and then linked into place,
    which fails if the file exists: whoever reads the key file reads a complete
    key, and only one key is ever made even if sibling workers race.
    """
    temporary = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return False
    finally:
        temporary.unlink()
    return True


def write_public(path: Path, text: str) -> None:
    """Replace a public file atomically."""
    write_atomically(path, text)


def create_key(data_dir: Path, origin: str, *, rotating: bool = False) -> bool:
    """Make the key (or, `rotating`, the next key); False if one was there already."""
    signer_key, verifier_key = generate_signer(origin)
    private, public = (
        (NEXT_SIGNER_FILE, NEXT_VERIFIER_FILE) if rotating else (SIGNER_FILE, VERIFIER_FILE)
    )
    if not write_private(data_dir / private, signer_key):
        return False  # another process made the key; it writes the verifier file
    write_public(data_dir / public, verifier_key + "\n")
    return True


def read_signer_key(path: Path, origin: str) -> tuple[str, str]:
    """(signer key, verifier key) of a private key file, checked to be safe and this log's."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyFileError(f"{path} 的权限为 {mode:o}，私钥文件只能由服务账户读取（0600）")
    signer_key = path.read_text().strip()
    parsed = parse_signer_key(signer_key)
    if parsed.name != origin:
        raise KeyFileError(f"{path} 是日志“{parsed.name}”的密钥，而本服务的日志名为“{origin}”")
    public = parsed.private_key.public_key().public_bytes_raw()
    return signer_key, verifier_key_string(origin, public)


def retired_keys(data_dir: Path) -> tuple[str, ...]:
    """The public keys this log signed with before (one a line in log-verifier.retired)."""
    path = data_dir / RETIRED_FILE
    if not path.exists():
        return ()
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def load_signer(data_dir: Path, origin: str, *, create: bool) -> Signer:
    """The signer of log `origin` from its key files; a missing key is made only if `create`."""
    path = data_dir / SIGNER_FILE
    if not path.exists():
        if not create:
            raise KeyFileError(f"缺少日志签名私钥 {path}")
        create_key(data_dir, origin)
    signer_key, verifier_key = read_signer_key(path, origin)
    next_path = data_dir / NEXT_SIGNER_FILE
    next_signer, next_verifier = (
        read_signer_key(next_path, origin) if next_path.exists() else (None, None)
    )
    return Signer(
        origin,
        verifier_key,
        signer_key,
        next_verifier,
        next_signer,
        retired_keys(data_dir),
    )


def start_rotation(data_dir: Path, origin: str) -> str:
    """Make the next key (which signs alongside the key from the next start); its public key."""
    if (data_dir / NEXT_SIGNER_FILE).exists():
        raise KeyFileError(
            f"换钥已在进行中（{data_dir / NEXT_SIGNER_FILE} 已存在）；"
            "结束换钥请运行 shuangsui log rotate-key --finish"
        )
    create_key(data_dir, origin, rotating=True)
    return read_signer_key(data_dir / NEXT_SIGNER_FILE, origin)[1]


def finish_rotation(data_dir: Path, origin: str) -> tuple[str, str]:
    """Retire the key: the next key becomes the key. (retired public key, new public key).

    The old public key is appended to log-verifier.retired first, so that a crash
    at any step leaves every checkpoint verifiable.
    """
    next_path = data_dir / NEXT_SIGNER_FILE
    if not next_path.exists():
        raise KeyFileError("没有进行中的换钥：请先运行 shuangsui log rotate-key")
    _, old = read_signer_key(data_dir / SIGNER_FILE, origin)
    _, new = read_signer_key(next_path, origin)
    if old not in retired_keys(data_dir):
        with (data_dir / RETIRED_FILE).open("a") as handle:
            handle.write(old + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    next_path.replace(data_dir / SIGNER_FILE)
    write_public(data_dir / VERIFIER_FILE, new + "\n")
    (data_dir / NEXT_VERIFIER_FILE).unlink(missing_ok=True)
    return old, new
