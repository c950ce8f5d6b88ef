"""The log in the database: append, tree heads, proofs, checkpoints, bundles.

Appending locks the single log-head row (UPDATE ... RETURNING), so appends by
any number of processes on one PostgreSQL serialize there and indexes never
fork or gap; the entry commits with the business change it records or not at
all. Every perfect subtree's hash is stored as it completes, so tree heads and
proofs read O(log n) stored hashes and never rehash the log.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import rfc8785
from sqlalchemy import and_, event, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from app.errors import DomainError, InvalidInput, NotFound
from app.ledger import merkle
from app.ledger.checkpoint import format_checkpoint
from app.ledger.cosigned import cosignatures_of
from app.ledger.kept import Guard, judge
from app.ledger.keys import Signer
from app.ledger.models import Checkpoint, LogEntry, LogHead, LogNode
from app.ledger.tiles import MAX_ENTRY_BYTES

Coordinate = tuple[int, int]

log = logging.getLogger("shuangsui.ledger")


class LogInconsistent(DomainError):
    status = 500
    code = "log_inconsistent"
    title = "公开日志自检失败"


class LogEntryTooLarge(DomainError):
    status = 422
    code = "log_entry_too_large"
    title = "日志条目过大"


class CheckpointPending(DomainError):
    status = 503
    code = "log_checkpoint_pending"
    title = "检查点尚未签署"
    retry_after = 1


def entry_bytes(entry: Mapping[str, Any]) -> bytes:
    """An entry's exact stored bytes: RFC 8785 (JCS)."""
    return rfc8785.dumps(dict(entry))


def _nodes(session: Session, coordinates: Iterable[Coordinate]) -> dict[Coordinate, bytes]:
    wanted = sorted(set(coordinates))
    if not wanted:
        return {}
    found: dict[Coordinate, bytes] = {}
    # Chunks keep the statement small; a proof at 1M entries needs about 40.
    for start in range(0, len(wanted), 200):
        part = wanted[start : start + 200]
        condition = or_(*(and_(LogNode.level == lv, LogNode.idx == ix) for lv, ix in part))
        for node in session.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(condition)
        ):
            found[(node.level, node.idx)] = node.hash
    missing = [c for c in wanted if c not in found]
    if missing:
        raise LogInconsistent(f"公开日志缺少节点 {missing[:3]}，请运行 shuangsui audit-log")
    return found


def size(session: Session) -> int:
    """How many entries the log holds (as this transaction sees it)."""
    return int(session.scalar(select(LogHead.size).where(LogHead.id == 1)) or 0)


def lock_head(session: Session) -> None:
    """Take the log's write lock for this transaction before reading what it decides on.

    Every ceremony step reads state (is this draw still frozen?) and then logs;
    taking the lock first makes concurrent steps queue, on PostgreSQL (row lock)
    and on SQLite (the write lock) alike, so each sees the other's result.
    """
    session.execute(update(LogHead).where(LogHead.id == 1).values(size=LogHead.size))


# Set on a session that appended, so that whoever commits it knows the log grew.
LOG_APPENDED = "shuangsui.log_appended"
# The guard of a session's factory (installed with `sign_after_commit`).
GUARD = "shuangsui.log_guard"
# What the guard saw when the session's transaction began: (guard, Seen).
GUARD_SEEN = "shuangsui.log_guard_seen"


def check_guard(session: Session, guard: Guard | None) -> None:
    """Refuse (409) unless this database's log equals or extends the checkpoint kept on disk.

    Reads O(log n) stored hashes: the tree head at the database's size and, if the
    log grew since, the consistency proof from the kept size. The kept file is the
    one read as the transaction began (`sign_after_commit`), before the database's
    snapshot: a sibling worker keeps a checkpoint only after its entries commit, so
    the snapshot holds at least what that file names, on SQLite as on PostgreSQL.
    """
    if guard is None:
        return
    cached = session.info.get(GUARD_SEEN)
    seen = cached[1] if cached is not None and cached[0] is guard else guard.seen()
    db_size = size(session)
    head = root(session, db_size)
    consistent = True
    kept = seen.kept
    if kept is not None and kept.size > 0 and db_size >= kept.size:
        if db_size == kept.size:
            consistent = head == kept.root
        else:
            proof = consistency_proof(session, kept.size, db_size)
            consistent = merkle.verify_consistency(kept.size, db_size, proof, kept.root, head)
    signed_before = latest_checkpoint(session) is not None
    missing = seen.problem is not None and seen.problem.code == "log_checkpoint_file_missing"
    if missing and signed_before and seen.alarm is None and guard.seen().kept is not None:
        return  # a sibling worker kept the log's first checkpoint during this transaction
    judge(seen, db_size=db_size, db_root=head, consistent=consistent, signed_before=signed_before)


def append(session: Session, entry: Mapping[str, Any]) -> int:
    """Append one entry; return its index. Commits with the caller's transaction."""
    body = entry_bytes(entry)
    if len(body) > MAX_ENTRY_BYTES:
        # An entry bundle (C2SP tlog-tiles) prefixes each entry with a uint16 length.
        raise LogEntryTooLarge(
            f"日志条目（{entry.get('kind')}）为 {len(body)} 字节，超过上限 {MAX_ENTRY_BYTES}；"
            "未写入任何数据，请缩短其中的文字"
        )
    if not session.info.get(LOG_APPENDED):
        # Once per transaction, before its first entry: never grow a rolled-back log.
        check_guard(session, session.info.get(GUARD))
    session.info[LOG_APPENDED] = True
    new_size = session.execute(
        update(LogHead).where(LogHead.id == 1).values(size=LogHead.size + 1).returning(LogHead.size)
    ).scalar_one()
    index = int(new_size) - 1
    leaf = merkle.leaf_hash(body)
    session.execute(
        insert(LogEntry).values(
            idx=index,
            kind=str(entry["kind"]),
            draw=entry.get("draw"),
            body=body,
            leaf_hash=leaf,
        )
    )
    # The perfect subtrees this leaf completes: climb while we are a right child.
    siblings = _nodes(session, merkle.append_siblings(index))
    rows = [
        {"level": level, "idx": idx, "hash": h}
        for level, idx, h in merkle.append_nodes(index, leaf, siblings)
    ]
    session.execute(insert(LogNode), rows)
    return index


def root(session: Session, tree_size: int) -> bytes:
    """The tree head of the first `tree_size` entries."""
    return merkle.root_hash(tree_size, _nodes(session, merkle.root_nodes(tree_size)))


def inclusion_proof(session: Session, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 inclusion proof of entry `index` in the tree of `tree_size`."""
    if not 0 <= index < tree_size:
        raise InvalidInput(f"条目 {index} 不在大小为 {tree_size} 的日志中")
    nodes = _nodes(session, merkle.inclusion_proof_nodes(index, tree_size))
    return merkle.inclusion_proof(index, tree_size, nodes)


def consistency_proof(session: Session, first: int, second: int) -> list[bytes]:
    """RFC 9162 consistency proof from tree size `first` to `second`."""
    if not 0 <= first <= second:
        raise InvalidInput(f"一致性证明须满足 0 ≤ first ≤ second，收到 {first}、{second}")
    nodes = _nodes(session, merkle.consistency_proof_nodes(first, second))
    return merkle.consistency_proof(first, second, nodes)


def latest_checkpoint(session: Session) -> Checkpoint | None:
    """The most recent signed checkpoint."""
    return session.scalars(select(Checkpoint).order_by(Checkpoint.size.desc()).limit(1)).first()


def sign_checkpoint(session: Session, signer: Signer) -> Checkpoint:
    """Sign the log at its current size, after checking it extends the last checkpoint."""
    # Lock the head: concurrent signers queue here, and sign what they see.
    current = int(
        session.execute(select(LogHead.size).where(LogHead.id == 1).with_for_update()).scalar_one()
    )
    check_guard(session, signer.guard)
    last = latest_checkpoint(session)
    if last is not None and last.size == current:
        _keep(session, signer, last.note, last.size)
        return last
    head = root(session, current)
    if last is not None:
        proof = consistency_proof(session, last.size, current)
        if not merkle.verify_consistency(last.size, current, proof, last.root_hash, head):
            raise LogInconsistent(
                f"日志大小 {current} 与已签名的检查点（大小 {last.size}）不一致，拒绝签名"
            )
    note = signer.sign(format_checkpoint(signer.name, current, head))
    # SQLite has no FOR UPDATE: two readers may both find the log ahead of its
    # checkpoint and sign the same size. Ed25519 signatures are deterministic, so
    # both wrote the same note; the second keeps the first's row.
    inserting = _insert_for(session)(Checkpoint).values(size=current, root_hash=head, note=note)
    session.execute(inserting.on_conflict_do_nothing(index_elements=[Checkpoint.size]))
    signed = session.get(Checkpoint, current, populate_existing=True)
    if signed is None or bytes(signed.root_hash) != head:
        raise LogInconsistent(f"大小为 {current} 的检查点已由另一进程以不同的根签名，拒绝签名")
    # On disk before the commit makes it visible: whatever a client saw is kept.
    _keep(session, signer, signed.note, current)
    return signed


def _keep(session: Session, signer: Signer, note: str, tree_size: int) -> None:
    """Keep the checkpoint in the data directory, if it is newer than the kept one."""
    guard = signer.guard
    if guard is None:
        return
    kept = guard.kept_size()
    if kept is not None and kept >= tree_size:  # the empty log's checkpoint is kept too
        return
    if session.info.get(LOG_APPENDED):
        # Entries of this very transaction may still roll back; the signing after
        # its commit keeps the checkpoint (above, for a size already signed).
        return
    guard.keep(note, tree_size)


def _insert_for(session: Session) -> Callable[..., Any]:
    """The dialect's INSERT, which knows ON CONFLICT DO NOTHING (SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert
    return sqlite_insert


def published_note(session: Session, checkpoint: Checkpoint) -> str:
    """The checkpoint as the log serves it: its signed note, with the cosignatures it has."""
    return checkpoint.note + "".join(c.line for c in cosignatures_of(session, checkpoint.size))


def signed_checkpoint(
    session: Session, signer: Signer, *, covering: int | None = None
) -> Checkpoint:
    """The latest signed checkpoint (one that covers entry `covering`, if given). Reads only.

    Readers never sign: every commit that grew the log has its checkpoint signed
    right after it (`sign_after_commit`), and a service starting signs what a
    stopped process left unsigned (`sign_pending`). An entry committed a moment
    ago may not be covered yet: 503, to be asked again.
    """
    # A rolled-back database's latest checkpoint is not the log's: not served as current.
    check_guard(session, signer.guard)
    latest = latest_checkpoint(session)
    if latest is None:
        raise CheckpointPending(
            "公开日志尚无签名检查点：服务启动时（或第一条日志写入后）签署，请稍后重试"
        )
    if covering is not None and latest.size <= covering:
        raise CheckpointPending(
            f"第 {covering} 条刚刚写入，最新的检查点（大小 {latest.size}）尚未包含它，请稍后重试"
        )
    return latest


def sign_pending(factory: sessionmaker[Session], signer: Signer) -> Checkpoint:
    """Sign the log if it has grown past its latest checkpoint, or has none yet.

    Run as the service starts: a process that stopped between a commit and its
    signature left entries no checkpoint covers, and the empty log needs its first.
    """
    with factory() as session:
        latest = latest_checkpoint(session)
        if latest is not None and latest.size == size(session):
            return latest
        signed = sign_checkpoint(session, signer)
        session.commit()
        return signed


class SigningLater:
    """Signs, in the background, what a failed after-commit signature left unsigned.

    The step's entries are committed whatever happens to its checkpoint: a database
    hiccup or a full disk must not turn a finished ceremony step into an error, nor
    leave its entries unproven until the next append. One retry at a time, backing
    off from `first` seconds to at most a minute, until a checkpoint covers the log.
    """

    LONGEST = 60.0

    def __init__(
        self,
        factory: sessionmaker[Session],
        signer: Signer,
        then: Callable[[], None] | None,
        first: float,
    ) -> None:
        self.factory, self.signer, self.then, self.first = factory, signer, then, first
        self._delay = first
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._stopped = False

    def schedule(self) -> None:
        with self._lock:
            if self._timer is not None or self._stopped:
                return  # a retry is on its way; it signs the whole log
            self._timer = threading.Timer(self._delay, self._run)
            self._timer.daemon = True
            self._timer.start()

    @property
    def waiting(self) -> bool:
        with self._lock:
            return self._timer is not None

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def _run(self) -> None:
        with self._lock:
            self._timer = None
        try:
            sign_pending(self.factory, self.signer)
        except Exception:
            self._delay = min(self._delay * 2, self.LONGEST)
            log.exception(
                "signing the log's checkpoint failed again (retry in %.0f s)", self._delay
            )
            self.schedule()
            return
        self._delay = self.first
        log.info("the log's checkpoint is signed again")
        if self.then is not None:
            self.then()


def sign_after_commit(
    factory: sessionmaker[Session],
    signer: Signer,
    *,
    then: Callable[[], None] | None = None,
    retry_seconds: float | None = None,
) -> SigningLater | None:
    """Sign a checkpoint after every commit of `factory`'s sessions that appended to the log.

    The one place where checkpoints of ceremony steps are signed: the step's
    entries commit first, then the checkpoint is signed in its own transaction,
    and `then` runs (for example, to tell the public pages the log grew). If the
    signature fails, with `retry_seconds` the commit stands and the signature is
    retried in the background (returned, to be stopped); without, the failure is
    raised to the committer (the command line, which says so and exits; the next
    start of the service signs).
    """
    later = SigningLater(factory, signer, then, retry_seconds) if retry_seconds else None

    def sign(session: Session) -> None:
        if not session.info.pop(LOG_APPENDED, False):
            return
        try:
            with factory() as fresh:
                sign_checkpoint(fresh, signer)
                fresh.commit()
        except Exception:
            if later is None:
                raise
            log.exception("signing the log's checkpoint after a commit failed: retrying")
            later.schedule()
            return
        if then is not None:
            then()

    def forget(session: Session) -> None:
        session.info.pop(LOG_APPENDED, None)

    # Every session of the factory refuses to grow a log the guard does not accept.
    factory.configure(info={**factory.kw.get("info", {}), GUARD: signer.guard})
    guard = signer.guard

    def remember(session: Session, transaction: Any, _connection: Any) -> None:
        # Read before the transaction's first statement, so before its snapshot.
        if guard is not None and not transaction.nested:
            session.info[GUARD_SEEN] = (guard, guard.seen())

    event.listen(factory, "after_begin", remember)
    event.listen(factory, "after_commit", sign)
    event.listen(factory, "after_rollback", forget)
    return later


def entry(session: Session, index: int) -> LogEntry:
    """The entry at `index`."""
    found = session.get(LogEntry, index)
    if found is None:
        raise NotFound(f"公开日志中没有第 {index} 条")
    return found


def entries_of_draw(session: Session, public_id: str) -> list[int]:
    """The indexes of a draw's entries, in order."""
    return list(
        session.scalars(
            select(LogEntry.idx).where(LogEntry.draw == public_id).order_by(LogEntry.idx)
        )
    )


def b64(data: bytes) -> str:
    """Standard base64, as checkpoints and proofs are published."""
    return base64.b64encode(data).decode()
