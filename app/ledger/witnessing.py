"""The witness client: each new checkpoint goes to every witness with a URL in the
policy (C2SP tlog-witness `add-checkpoint`), in the background.

Ceremonies never wait: a commit that grew the log only wakes this process's
witnessing thread, which talks to witnesses after the checkpoint is committed,
with no database lock held. With several worker processes, one process at a time
talks to a given witness: it takes a lease on the witness's state row (a
conditional UPDATE, committed before any request), and failures back off on a
schedule kept in that same row, so that workers share it instead of each
retrying on its own.

A witness that answers 409 with a size beyond every checkpoint this database
holds has cosigned a checkpoint we no longer have: the database was rolled back.
`ahead_of_us` says so, in Chinese; the witnessing thread raises the guard's alarm
with it (app.ledger.guard.raise_alarm), which refuses every signature until cleared.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

import httpx
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.ledger import store
from app.ledger.cosignature import CosignatureError, parse_line, split_lines, verify_line
from app.ledger.cosigned import add_cosignature
from app.ledger.policy import Policy, PolicyError, PolicyWitness, parse_policy
from app.ledger.witness_models import Cosignature, WitnessState
from app.types import utcnow

log = logging.getLogger("shuangsui.witnessing")

SIZE_MEDIA_TYPE = "text/x.tlog.size"
MAX_PROOF_LINES = 63
MAX_RESPONSE_BYTES = 64 * 1024
# Backoff after failures: 5 s, 10 s, 20 s ... at most an hour.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(hours=1)
# Rounds of one submission: a 409 to learn the witness's size, then the real request,
# and once more if the log grew meanwhile.
MAX_ROUNDS = 4
# How far ahead of our clock a witness's cosignature time may be.
FUTURE_SLACK = timedelta(minutes=10)


class WitnessPolicyError(RuntimeError):
    """The witness policy file cannot be used (the message says why, in Chinese)."""


def load_policy(path: Path, verifier_keys: list[str]) -> Policy:
    """The policy file, checked against this log's keys (either, during a rotation)
    when it lists logs."""
    try:
        policy = parse_policy(path.read_bytes())
    except OSError as exc:
        raise WitnessPolicyError(f"无法读取见证策略文件 {path}：{exc}") from exc
    except PolicyError as exc:
        raise WitnessPolicyError(f"见证策略文件 {path} 有误：{exc}") from exc
    if policy.logs and not set(verifier_keys) & {entry.vkey for entry in policy.logs}:
        raise WitnessPolicyError(
            f"见证策略文件 {path} 列出的日志公钥中没有本日志的公钥 {'、'.join(verifier_keys)}"
        )
    for witness in policy.witnesses:
        if witness.url is not None and not witness.url.startswith(("http://", "https://")):
            raise WitnessPolicyError(
                f"见证策略文件 {path}：见证人“{witness.name}”的网址应以 http:// 或 https:// 开头"
            )
    return policy


class Submitted(StrEnum):
    """What one submission to one witness came to."""

    COSIGNED = "cosigned"  # the witness cosigned the checkpoint
    CURRENT = "current"  # it had cosigned this size already
    WAITING = "waiting"  # try again later
    AHEAD = "ahead"  # it reports a larger log: the rollback alarm
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one submission to one witness came to."""

    witness: str
    status: Submitted
    size: int | None = None
    detail: str = ""


def ensure_states(session: Session, policy: Policy) -> None:
    """A state row for each witness of the policy that has a URL."""
    for witness in policy.witnesses:
        if witness.url is None or session.get(WitnessState, witness.vkey) is not None:
            continue
        try:
            with session.begin_nested():
                session.add(WitnessState(vkey=witness.vkey, name=witness.name, failures=0))
        except IntegrityError:
            pass  # a sibling process added it


def _claim(factory: sessionmaker[Session], witness: PolicyWitness, lease: timedelta) -> bool:
    """Take the witness's lease if it is free and its retry time has come."""
    now = utcnow()
    with factory() as session:
        claimed = session.execute(
            update(WitnessState)
            .where(
                WitnessState.vkey == witness.vkey,
                or_(WitnessState.lease_until.is_(None), WitnessState.lease_until < now),
                or_(WitnessState.next_attempt.is_(None), WitnessState.next_attempt <= now),
            )
            .values(lease_until=now + lease)
            .returning(WitnessState.vkey)
            .execution_options(synchronize_session=False)
        ).first()
        session.commit()
    return claimed is not None


def _update(factory: sessionmaker[Session], witness: PolicyWitness, **values: object) -> None:
    with factory() as session:
        session.execute(
            update(WitnessState)
            .where(WitnessState.vkey == witness.vkey)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        session.commit()


def _finish(factory: sessionmaker[Session], witness: PolicyWitness, **values: object) -> None:
    """Release the lease (with any last changes)."""
    _update(factory, witness, lease_until=None, **values)


def _failed(factory: sessionmaker[Session], witness: PolicyWitness, detail: str) -> Outcome:
    with factory() as session:
        state = session.get(WitnessState, witness.vkey)
        failures = (state.failures if state else 0) + 1
    delay = min(FIRST_RETRY * 2 ** min(failures - 1, 20), LONGEST_RETRY)
    _finish(
        factory,
        witness,
        failures=failures,
        next_attempt=utcnow() + delay,
        last_error=detail[:500],
    )
    log.warning("witness %s: %s (retry in %s)", witness.name, detail, delay)
    return Outcome(witness.name, Submitted.FAILED, detail=detail)


def request_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """An add-checkpoint body: old size line, proof lines, an empty line, the checkpoint."""
    if len(proof) > MAX_PROOF_LINES:
        raise ValueError("a consistency proof of more than 63 hashes")
    lines = [f"old {old_size}\n"] + [store.b64(h) + "\n" for h in proof]
    return ("".join(lines) + "\n" + note).encode()


def parse_size(response: httpx.Response) -> int | None:
    """The tree size of a 409 answer (text/x.tlog.size), or None if it is not one."""
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    text = response.content.decode("ascii", errors="replace")
    digits = text[:-1]
    if media != SIZE_MEDIA_TYPE or not text.endswith("\n") or not digits.isdigit():
        return None
    if not digits.isascii() or (digits != "0" and digits.startswith("0")) or len(digits) > 19:
        return None
    return int(digits)


def _cosignature(witness: PolicyWitness, text: str, body: bytes) -> tuple[str, int] | str:
    """The witness's valid cosignature line in a 200 answer and its time, or what is wrong."""
    try:
        lines = split_lines(body.decode("utf-8"))
    except (UnicodeDecodeError, CosignatureError):
        return "见证人的应答不是签名行"
    found: tuple[str, int] | None = None
    for line in lines:
        try:
            parsed = parse_line(line)
        except CosignatureError:
            return "见证人的应答含格式错误的签名行"
        if (parsed.name, parsed.key_id) != (witness.cosigner.name, witness.cosigner.key_id):
            continue  # another key's signature: ignored, as the spec says
        try:
            found = found or (line, verify_line(witness.cosigner, text, parsed))
        except CosignatureError:
            return "见证人的联署签名无法验证"
    return found or "见证人的应答中没有其公钥的联署签名"


def _is_current(session: Session, witness: PolicyWitness) -> bool:
    """Has this witness cosigned the latest checkpoint already (or is there none)?"""
    latest = store.latest_checkpoint(session)
    if latest is None:
        return True
    kept = session.scalar(
        select(Cosignature.id).where(
            Cosignature.size == latest.size,
            Cosignature.witness == witness.cosigner.name,
            Cosignature.key_id == witness.cosigner.key_id.hex(),
        )
    )
    return kept is not None


def _answered_since(state: WitnessState, since: datetime) -> bool:
    """Has the witness cosigned for some process of this service since `since`?"""
    return state.last_ok is not None and state.last_ok >= since


def submit(
    factory: sessionmaker[Session],
    witness: PolicyWitness,
    http: httpx.Client,
    *,
    lease: timedelta = timedelta(seconds=60),
    probe: bool = False,
    answered_since: datetime | None = None,
) -> Outcome:
    """Send the latest checkpoint to one witness, if no other process is; store its cosignature.

    `probe` sends it even if the witness has cosigned it already: a process that starts
    asks once, so that a witness that has seen more of this log than the database holds
    (a database restored from an old copy) says so before anything new is signed —
    unless the witness has cosigned for a sibling process since `answered_since` (this
    process's start): that answer came after the same start, from the same database.
    """
    assert witness.url is not None
    with factory() as session:
        if not probe and _is_current(session, witness):
            return Outcome(witness.name, Submitted.CURRENT)
    if not _claim(factory, witness, lease):
        return Outcome(witness.name, Submitted.WAITING)
    try:
        outcome = _submit(factory, witness, http, probe=probe, answered_since=answered_since)
    except Exception as exc:  # never leave the lease held: the next try must come
        log.exception("witness %s", witness.name)
        return _failed(factory, witness, f"提交见证时出错：{type(exc).__name__}")
    if outcome.status != Submitted.FAILED:
        _finish(factory, witness)
    return outcome


def _submit(
    factory: sessionmaker[Session],
    witness: PolicyWitness,
    http: httpx.Client,
    *,
    probe: bool,
    answered_since: datetime | None,
) -> Outcome:
    """The rounds of one submission, under the lease; the caller releases it."""
    assert witness.url is not None
    url = witness.url.rstrip("/") + "/add-checkpoint"
    cosigned: int | None = None
    for _ in range(MAX_ROUNDS):
        with factory() as session:
            latest = store.latest_checkpoint(session)
            state = session.get(WitnessState, witness.vkey)
            if latest is None or state is None:
                return Outcome(witness.name, Submitted.CURRENT)
            if probe and answered_since is not None and _answered_since(state, answered_since):
                probe = False  # a sibling of this very start asked already
            if not probe and _is_current(session, witness):
                status = Submitted.CURRENT if cosigned is None else Submitted.COSIGNED
                return Outcome(witness.name, status, cosigned)
            known = state.size
            old = known if known is not None and known <= latest.size else 0
            proof = store.consistency_proof(session, old, latest.size) if old else []
            size, note = latest.size, latest.note
        probe = False
        # The request goes out with no transaction open.
        try:
            response = http.post(
                url,
                content=request_body(old, proof, note),
                headers={"content-type": "text/plain; charset=utf-8"},
            )
        except httpx.HTTPError as exc:
            return _failed(factory, witness, f"无法连接见证人 {url}：{type(exc).__name__}")
        if len(response.content) > MAX_RESPONSE_BYTES:
            return _failed(factory, witness, "见证人的应答过大")
        if response.status_code == 409:
            reported = parse_size(response)
            if reported is None:
                return _failed(
                    factory, witness, "见证人的 409 应答不是 text/x.tlog.size 格式的大小"
                )
            with factory() as session:
                ours = store.latest_checkpoint(session)
                ours_size = ours.size if ours is not None else 0
            if reported > ours_size:
                _update(factory, witness, ahead_size=reported, ahead_at=utcnow())
                log.error(
                    "witness %s has cosigned size %d, ours is %d", witness.name, reported, ours_size
                )
                return Outcome(witness.name, Submitted.AHEAD, size=reported)
            _update(factory, witness, size=reported)
            continue
        if response.status_code == 422:
            # Its tree of size `old` is not ours: the log forked, or our database went back.
            _update(factory, witness, forked_size=old, forked_at=utcnow())
        if response.status_code != 200:
            snippet = response.content[:200].decode("utf-8", errors="replace").strip()
            return _failed(
                factory, witness, f"见证人应答 HTTP {response.status_code}：{snippet}"[:300]
            )
        found = _cosignature(witness, note[: note.rindex("\n\n") + 1], response.content)
        if isinstance(found, str):
            return _failed(factory, witness, found)
        line, timestamp = found
        if timestamp > utcnow().timestamp() + FUTURE_SLACK.total_seconds():
            # Verifiers may reject cosignatures from the future: such a one is not kept.
            return _failed(factory, witness, f"见证人的联署时间 {timestamp} 在未来（时钟有误）")
        with factory() as session:
            add_cosignature(
                session,
                size=size,
                witness=witness.cosigner.name,
                key_id=witness.cosigner.key_id,
                timestamp=timestamp,
                line=line,
            )
            session.commit()
        cosigned = size
        _update(
            factory,
            witness,
            size=size,
            last_ok=utcnow(),
            failures=0,
            next_attempt=None,
            last_error=None,
            ahead_size=None,
            ahead_at=None,
            forked_size=None,
            forked_at=None,
        )
    return _failed(factory, witness, "见证人多次应答 409，未能对齐大小")


def ahead_of_us(session: Session) -> str | None:
    """A Chinese alarm if a witness has cosigned a log this database does not hold, else None.

    Either it reported (409) a size beyond our latest checkpoint, or it refused (422) a
    consistency proof from a size it cosigned: its tree of that size is not ours.
    """
    latest = store.latest_checkpoint(session)
    ours = latest.size if latest is not None else 0
    ahead = session.scalars(
        select(WitnessState)
        .where(WitnessState.ahead_size.is_not(None), WitnessState.ahead_size > ours)
        .order_by(WitnessState.ahead_size.desc())
    ).first()
    advice = "请停止签名，找回最新的数据库（或核对数据目录中保存的最新检查点）后再恢复服务。"
    if ahead is not None:
        return (
            f"见证人“{ahead.name}”报告它已为本日志联署过大小为 {ahead.ahead_size} 的检查点，"
            f"而本数据库最新的签名检查点只到大小 {ours}：数据库可能被恢复为较旧的副本"
            f"（日志被回滚）。{advice}"
        )
    forked = session.scalars(
        select(WitnessState)
        .where(WitnessState.forked_size.is_not(None))
        .order_by(WitnessState.name)
    ).first()
    if forked is not None:
        return (
            f"见证人“{forked.name}”拒绝了本日志从大小 {forked.forked_size} 起的一致性证明："
            f"它联署过的大小为 {forked.forked_size} 的日志与本数据库的不同（本数据库最新的签名"
            f"检查点大小为 {ours}）。数据库可能被恢复为旧副本后又写入了新条目（日志分叉）。{advice}"
        )
    return None


def status(session: Session) -> list[WitnessState]:
    """Every witness the client knows, by name."""
    return list(session.scalars(select(WitnessState).order_by(WitnessState.name)))
