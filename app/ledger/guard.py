"""Rollback, fork and key loss are refused: the service's signer, and the operator's recoveries.

`open_signer` is the one way to build the log's signer. It makes a key only for
a log that has never been signed; with a signed log, a missing key, or a key
that did not sign the checkpoint kept in the data directory, stops the service
(KeyFileError, in Chinese). The signer carries the data directory's guard
(app.ledger.kept): every signature and every first append of a transaction is
checked against the kept checkpoint (app.ledger.store.check_guard).

The recoveries (`shuangsui log trust-checkpoint`, `clear-alarm`) are written to
`log-guard.log` in the data directory and to the service's log; docs/log-guard.md
says when to use them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.errors import DomainError, ProblemItem
from app.ledger import store
from app.ledger.checkpoint import NoteError, open_note
from app.ledger.files import write_atomically
from app.ledger.kept import ALARM_FILE, CHECKPOINT_FILE, Guard, LogGuardRefused
from app.ledger.keys import SIGNER_FILE, KeyFileError, Signer, load_signer
from app.types import utcnow

log = logging.getLogger("shuangsui.guard")

RECORD_FILE = "log-guard.log"
HOW = "恢复办法见 docs/log-guard.md"


def _log_state(factory: sessionmaker[Session]) -> tuple[int, str | None]:
    """(log size, the latest signed checkpoint's note) in the database."""
    with factory() as session:
        latest = store.latest_checkpoint(session)
        return store.size(session), latest.note if latest is not None else None


def open_signer(data_dir: Path, origin: str, factory: sessionmaker[Session]) -> Signer:
    """The log's signer, with its guard; KeyFileError if the key is missing or not the log's.

    A key is made only on a first start: a log never signed (no checkpoint in the
    database, none kept), which no one can have verified. Making a new key for a
    log that has been signed would let anyone who deletes the key file sign a
    different history under a fresh key.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    kept = data_dir / CHECKPOINT_FILE
    try:
        db_size, latest_note = _log_state(factory)
    except SQLAlchemyError:
        # No database or no schema yet (/readyz says so). A key made now cannot sign
        # a database that was signed before: with no checkpoint kept, the guard
        # refuses to sign it (log_checkpoint_file_missing).
        log.warning("log guard: the database cannot be read; judging by the data directory")
        db_size, latest_note = 0, None
    first_start = latest_note is None and not kept.exists()
    if not (data_dir / SIGNER_FILE).exists() and not first_start:
        raise KeyFileError(
            f"日志已有 {db_size} 条并已签过检查点，但数据目录中没有签名私钥 "
            f"{data_dir / SIGNER_FILE}：不会新建密钥（否则删除密钥即可用新密钥改写日志）。"
            f"请从备份恢复原密钥文件；{HOW}"
        )
    signer = load_signer(data_dir, origin, create=first_start)
    known = signer.known_keys
    for what, note in (
        ("数据目录保存的最新检查点", _read(kept)),
        ("数据库中最新的检查点", latest_note),
    ):
        if note is not None and not _signed_by(note, known):
            raise KeyFileError(
                f"{what}不是由本服务的签名密钥签署的（本服务公钥：{'、'.join(signer.published_keys)}）："
                f"签名密钥被更换或来自另一个日志，拒绝启动。请恢复原密钥文件；{HOW}"
            )
    return dataclasses.replace(signer, guard=Guard(data_dir, known))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _signed_by(note: str, keys: list[str]) -> bool:
    """Is `note` signed by one of `keys`? A note no key names is not; a bad signature is
    left for the guard to report as an invalid file."""
    try:
        open_note(note, keys)
    except NoteError as exc:
        return "no signature by a known key" not in str(exc)
    return True


def problem(session: Session, signer: Signer) -> DomainError | None:
    """What the guard refuses now, if anything (for /readyz and the start-up log).

    A database that cannot be read is not the guard's to report (/readyz says so).
    """
    try:
        store.check_guard(session, signer.guard)
    except (LogGuardRefused, store.LogInconsistent) as exc:
        return exc
    except SQLAlchemyError:
        session.rollback()
        return None
    return None


def readiness(session: Session, state: Any) -> ProblemItem | None:
    """/readyz's question to the log: a rolled-back or forked log, a foreign
    checkpoint file, a witness's alarm (app.observability's ReadinessCheck)."""
    signer = getattr(state, "signer", None)
    refused = problem(session, signer) if signer is not None else None
    if refused is None:
        return None
    return ProblemItem(loc=["log"], code=refused.code, message=refused.detail)


def record(data_dir: Path, action: str, **details: object) -> None:
    """Note an operator's recovery in the data directory's record and in the service log."""
    line = json.dumps({"at": utcnow().isoformat(), "action": action, **details}, ensure_ascii=False)
    with (data_dir / RECORD_FILE).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    log.warning("log guard: %s", action, extra={"details": details})


def raise_alarm(data_dir: Path, message: str) -> None:
    """Refuse every append and signature until an operator clears the alarm."""
    path = data_dir / ALARM_FILE
    if path.exists():
        return
    write_atomically(path, f"{utcnow().isoformat()} {message}\n")
    log.error("log guard: alarm raised: %s", message)


def clear_alarm(data_dir: Path, reason: str) -> str | None:
    """Remove the alarm (recorded with the reason); its text, or None if there was none."""
    path = data_dir / ALARM_FILE
    text = _read(path)
    if text is None:
        return None
    record(data_dir, "clear-alarm", reason=reason, alarm=text.strip())
    path.unlink()
    return text


@dataclass(frozen=True, slots=True)
class TrustPlan:
    """What `trust-checkpoint` would do: the kept checkpoint and the database's latest."""

    kept_size: int | None
    kept_root: str | None
    db_size: int
    db_root: str
    note: str | None


def trust_plan(session: Session, signer: Signer) -> TrustPlan:
    """The kept checkpoint and the one the database would be pinned to."""
    assert signer.guard is not None
    seen = signer.guard.seen()
    latest = store.latest_checkpoint(session)
    db_size = store.size(session)
    return TrustPlan(
        kept_size=seen.kept.size if seen.kept else None,
        kept_root=store.b64(seen.kept.root) if seen.kept else None,
        db_size=latest.size if latest is not None else db_size,
        db_root=store.b64(bytes(latest.root_hash) if latest else store.root(session, db_size)),
        note=latest.note if latest is not None else None,
    )


def trust_checkpoint(data_dir: Path, plan: TrustPlan, *, reason: str) -> None:
    """Pin the kept checkpoint to the database's latest one (recorded)."""
    record(
        data_dir,
        "trust-checkpoint",
        reason=reason,
        kept_size=plan.kept_size,
        kept_root=plan.kept_root,
        new_size=plan.db_size,
        new_root=plan.db_root,
    )
    path = data_dir / CHECKPOINT_FILE
    if plan.note is None:
        path.unlink(missing_ok=True)
    else:
        write_atomically(path, plan.note)
