"""The records beside the log, checked against it: draws, and the append-only triggers.

What `draw show` and the public pages serve is read from the draws table, not
from the log: a draw's stored frame and result must hash to what the log
committed (the commitment's `frame_hash`, the result entry's `result_hash`) and
its seed must be the seed entry's. History is append-only only while the
database's triggers are in place, so the audit checks that they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.ledger.audit_raw import as_text, rows, wrong
from app.ledger.kinds import EntryKind

Report = Callable[[int | None, str], None]

# The triggers of migrations 0002, 0009 and 0010, by dialect.
_APPEND_ONLY = (
    "log_entries",
    "log_nodes",
    "log_checkpoints",
    "log_cosignatures",
    "change_records",
    "draw_units",
)
TRIGGERS = {
    "sqlite": frozenset(
        [f"{t}_no_{a}" for t in _APPEND_ONLY for a in ("update", "delete")]
        + ["log_head_no_delete", "log_head_only_grows"]
    ),
    "postgresql": frozenset(
        [f"{t}_{s}" for t in _APPEND_ONLY for s in ("append_only", "no_truncate")]
        + ["log_head_only_grows", "log_head_no_truncate"]
    ),
}


@dataclass
class Committed:
    """What the log committed about each draw: (entry index, value) per kind."""

    frames: dict[str, list[tuple[int, object]]] = field(default_factory=dict)
    seeds: dict[str, list[tuple[int, object]]] = field(default_factory=dict)
    results: dict[str, list[tuple[int, object]]] = field(default_factory=dict)

    def note(self, index: int, entry: dict[str, Any]) -> None:
        draw = entry.get("draw")
        if not isinstance(draw, str):
            return
        kind = entry.get("kind")
        if kind == EntryKind.COMMITMENT:
            self.frames.setdefault(draw, []).append((index, entry.get("frame_hash")))
        elif kind == EntryKind.SEED:
            self.seeds.setdefault(draw, []).append((index, entry.get("seed")))
        elif kind == EntryKind.RESULT:
            self.results.setdefault(draw, []).append((index, entry.get("result_hash")))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def check_draws(session: Session, committed: Committed, bad: Report) -> int:
    """Check every draw's frame, seed and result against the log; how many draws."""
    count = 0
    for draw_id, raw_public, *values in rows(
        session,
        "SELECT id, public_id, frame_jcs, frame_hash, seed, result_jcs, result_hash "
        "FROM draws ORDER BY id",
    ):
        count += 1
        public_id = as_text(raw_public)
        if public_id is None:
            bad(None, wrong("draws", f"id {draw_id}", "public_id", raw_public, "TEXT"))
            continue
        _check_draw(public_id, values, committed, bad)
    return count


def _check_hashed(
    where: str, column: str, stored: object, stored_hash: object, entry: tuple[int, object]
) -> None | str:
    """What is wrong with a stored canonical text and its hash against the logged hash."""
    index, logged = entry
    if as_text(stored) is None:
        return wrong("draws", where, column, stored, "TEXT")
    field_name = "frame_hash" if column == "frame_jcs" else "result_hash"
    if _sha256(str(stored)) != logged:
        return f"{where}：存储的 draws.{column} 与第 {index} 条日志的 {field_name} 不符"
    if stored_hash != logged:
        return f"{where}：draws.{field_name} 与第 {index} 条日志的 {field_name} 不符"
    return None


def _check_draw(public_id: str, values: list[Any], committed: Committed, bad: Report) -> None:
    frame_jcs, frame_hash, seed, result_jcs, result_hash = values
    where = f"抽查 {public_id}"
    frames = committed.frames.get(public_id, [])
    if len(frames) != 1:
        bad(None, f"{where}：日志中应有一条承诺条目，实有 {len(frames)} 条")
    elif problem := _check_hashed(where, "frame_jcs", frame_jcs, frame_hash, frames[0]):
        bad(frames[0][0], problem)
    seeds = committed.seeds.get(public_id, [])
    if len(seeds) > 1:
        bad(seeds[1][0], f"{where}：日志中有 {len(seeds)} 条种子条目")
    if seeds and seed != seeds[0][1]:
        bad(seeds[0][0], f"{where}：draws.seed 与第 {seeds[0][0]} 条种子条目不符")
    elif not seeds and seed is not None:
        bad(None, f"{where}：存有种子（draws.seed），日志中却没有种子条目")
    results = committed.results.get(public_id, [])
    if len(results) > 1:
        bad(results[1][0], f"{where}：日志中有 {len(results)} 条结果条目")
    if not results:
        if result_jcs is not None or result_hash is not None:
            bad(None, f"{where}：存有结果（draws.result_jcs），日志中却没有结果条目")
    elif problem := _check_hashed(where, "result_jcs", result_jcs, result_hash, results[0]):
        bad(results[0][0], problem)


def check_triggers(session: Session, bad: Report) -> None:
    """Name every append-only trigger that is missing or disabled (history could be rewritten)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # A trigger disabled (ALTER TABLE ... DISABLE TRIGGER) refuses nothing.
        sql = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D'"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    present = {str(name) for (name,) in rows(session, sql)}
    for name in sorted(TRIGGERS.get(dialect, frozenset()) - present):
        bad(None, f"只许追加的触发器 {name} 缺失或被停用：该表的记录可被改写或删除")
