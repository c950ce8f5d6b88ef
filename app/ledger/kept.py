"""The latest signed checkpoint, kept in the data directory as well as in the database.

A database restored from an older copy holds an older log, and nothing in the
database can say so. The file `log-checkpoint.latest` holds the signed note of
the latest checkpoint this service signed, written (temp file, fsync, rename,
fsync of the directory) before the checkpoint is committed, so before anyone can
have read it. The database's log must equal it or extend it; `judge` says what
is wrong otherwise (app.ledger.store runs it before every append and signature).

`log-alarm.txt` is the second line: written when a witness reports a larger log
than ours, it refuses everything until an operator clears it (docs/log-guard.md).

Several workers share the directory: each reads the file once and again only
when its inode, size or modification time changed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.errors import DomainError
from app.ledger.checkpoint import (
    NoteError,
    ParsedCheckpoint,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
)
from app.ledger.cosignature import CosignatureError, parse_line
from app.ledger.files import write_atomically

CHECKPOINT_FILE = "log-checkpoint.latest"
ALARM_FILE = "log-alarm.txt"
LOCK_FILE = ".log-checkpoint.lock"
RECOVERY = "恢复办法见 docs/log-guard.md"


class LogGuardRefused(DomainError):
    """The database's log is not the one this service last signed: nothing is written."""

    status = 409
    code = "log_guard"
    title = "公开日志与已签名的检查点不符，拒绝写入和签名"


class KeptFileProblem(Exception):
    """The kept checkpoint file cannot be used: `code` says how (missing key aside)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _hex(root: bytes) -> str:
    return f"{root.hex()}（base64 {base64.b64encode(root).decode()}）"


@dataclass(frozen=True, slots=True)
class Seen:
    """What the data directory holds: an alarm, the kept checkpoint, or a file problem."""

    alarm: str | None
    kept: ParsedCheckpoint | None
    note: str | None
    problem: KeptFileProblem | None


def judge(
    seen: Seen,
    *,
    db_size: int,
    db_root: bytes | None,
    consistent: bool,
    signed_before: bool,
) -> None:
    """Refuse (LogGuardRefused) unless the database's log equals or extends the kept one.

    `db_root` is the database's root at its own size, `consistent` whether its
    tree extends the kept checkpoint (a verified consistency proof), and
    `signed_before` whether the database holds any signed checkpoint.
    """
    if seen.alarm is not None:
        raise LogGuardRefused(
            f"数据目录中有回滚警报（{ALARM_FILE}）：{seen.alarm.strip().rstrip('。')}。"
            f"核实后用 shuangsui log clear-alarm --reason … 解除；{RECOVERY}",
            code="log_alarm",
        )
    problem = seen.problem
    if problem is not None:
        # Each code spelled out, so that the API document lists every one (app.error_catalog).
        told = f"{problem.message}；{RECOVERY}"
        if problem.code == "log_key_mismatch":
            raise LogGuardRefused(told, code="log_key_mismatch")
        if problem.code == "log_checkpoint_file_invalid":
            raise LogGuardRefused(told, code="log_checkpoint_file_invalid")
        if signed_before:
            raise LogGuardRefused(told, code="log_checkpoint_file_missing")
        return  # nothing was ever signed: nothing can have been served
    kept = seen.kept
    assert kept is not None
    found = f"数据库中的日志大小为 {db_size}" + (f"，根哈希 {_hex(db_root)}" if db_root else "")
    wanted = f"数据目录保存的最新签名检查点大小为 {kept.size}，根哈希 {_hex(kept.root)}"
    if db_size < kept.size:
        raise LogGuardRefused(
            f"{found}；{wanted}。数据库比已发布的日志小：它可能被恢复为较旧的副本（日志被回滚）。"
            f"请找回最新的数据库；{RECOVERY}",
            code="log_rolled_back",
        )
    if not consistent:
        raise LogGuardRefused(
            f"{found}；{wanted}。数据库中的日志不是已发布日志的延续（日志分叉）："
            f"可能恢复了旧副本后又写入了新条目。请找回最新的数据库；{RECOVERY}",
            code="log_forked",
        )


class Guard:
    """This process's view of the data directory's kept checkpoint and alarm."""

    def __init__(self, data_dir: Path, known_keys: list[str]) -> None:
        self.data_dir = data_dir
        self.known_keys = list(known_keys)
        self._stamp: tuple[int, int, int] | None = None
        self._read: tuple[ParsedCheckpoint | None, str | None, KeptFileProblem | None] = (
            None,
            None,
            None,
        )

    @property
    def path(self) -> Path:
        return self.data_dir / CHECKPOINT_FILE

    def seen(self) -> Seen:
        """The alarm and the kept checkpoint, re-read only if the file changed."""
        alarm_path = self.data_dir / ALARM_FILE
        alarm = None
        with contextlib.suppress(FileNotFoundError):
            alarm = alarm_path.read_text(encoding="utf-8", errors="replace") or "（警报文件为空）"
        try:
            status = self.path.stat()
        except FileNotFoundError:
            self._stamp = None
            missing = KeptFileProblem(
                "log_checkpoint_file_missing",
                f"数据目录中没有保存的最新签名检查点（{self.path}），而数据库中已有签名检查点："
                "无法确认数据库未被恢复为旧副本",
            )
            return Seen(alarm, None, None, missing)
        stamp = (status.st_ino, status.st_size, status.st_mtime_ns)
        if stamp != self._stamp:
            self._read = self._parse(self.path.read_text(encoding="utf-8", errors="replace"))
            self._stamp = stamp
        kept, note, problem = self._read
        return Seen(alarm, kept, note, problem)

    def _parse(
        self, note: str
    ) -> tuple[ParsedCheckpoint | None, str | None, KeptFileProblem | None]:
        ours = {parse_verifier_key(k).key_id for k in self.known_keys}
        signed_by = set()
        for line in note.rpartition("\n\n")[2].splitlines(keepends=True):
            with contextlib.suppress(CosignatureError):  # a malformed line: open_note says so
                signed_by.add(parse_line(line).key_id)
        if signed_by and not signed_by & ours:
            return (
                None,
                None,
                KeptFileProblem(
                    "log_key_mismatch",
                    f"{self.path} 中的检查点不是本日志的密钥签名的：签名密钥被更换过，"
                    f"或检查点文件来自另一个日志（本日志的公钥：{'、'.join(self.known_keys)}）",
                ),
            )
        try:
            kept = parse_checkpoint(open_note(note, self.known_keys))
        except NoteError as exc:
            return (
                None,
                None,
                KeptFileProblem(
                    "log_checkpoint_file_invalid",
                    f"{self.path} 中保存的检查点无法解析或签名无效（{exc}）",
                ),
            )
        return kept, note, None

    def keep(self, note: str, size: int) -> None:
        """Keep `note` (the checkpoint of `size`) unless a larger one is kept already.

        Under a file lock, so that two workers signing sizes N and N+1 never leave
        the smaller one in the file.
        """
        with self._locked():
            current = self.seen()
            if current.kept is not None and current.kept.size >= size:
                return
            write_atomically(self.path, note)

    def kept_size(self) -> int | None:
        """The size of the kept checkpoint as last read (None if none)."""
        return self._read[0].size if self._stamp is not None and self._read[0] else None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.data_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
