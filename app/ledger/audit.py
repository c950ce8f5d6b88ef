"""Re-read the whole log and check it: the auditor's `shuangsui audit-log`.

Recomputes every leaf and subtree hash from the stored entry bytes, checks the
indexes run from 0 without a gap, that every entry is canonical JSON, that every
stored node matches, that the log head agrees with the entries, and that every
checkpoint is signed by the log's key and commits to the recomputed tree. Names
the first index where anything differs. Then the records beside the log
(app.ledger.audit_records): each draw's frame, seed and result against what the
log committed, and the triggers that keep history append-only.

Rows are read raw (app.ledger.audit_raw): a tampered row is named, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from sqlalchemy.orm import Session

from app.ledger import merkle
from app.ledger.audit_raw import as_bytes, as_int, as_text, rows, wrong
from app.ledger.audit_records import Committed, check_draws, check_triggers
from app.ledger.checkpoint import NoteError, open_note, parse_checkpoint


@dataclass
class AuditReport:
    """What the audit found; `ok` only if nothing differs."""

    size: int = 0
    checkpoints: int = 0
    draws: int = 0
    problems: list[str] = field(default_factory=list)
    first_bad_index: int | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(self, index: int | None, message: str) -> None:
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
        self.problems.append(message)


def audit(session: Session, verifier_keys: list[str]) -> AuditReport:
    """Audit the log in this database against the log's public keys (current and retired)."""
    report = AuditReport()
    tree = merkle.MemoryTree()
    committed = Committed()
    expected = 0
    for raw_idx, raw_body, raw_leaf in rows(
        session, "SELECT idx, body, leaf_hash FROM log_entries ORDER BY idx"
    ):
        idx = as_int(raw_idx)
        if idx is None:
            report.bad(expected, wrong("log_entries", raw_idx, "idx", raw_idx, "INTEGER"))
            continue
        if idx != expected:
            report.bad(expected, f"第 {expected} 条缺失（下一条是第 {idx} 条）")
            expected = idx
        body = as_bytes(raw_body)
        if body is None:
            report.bad(idx, wrong("log_entries", f"第 {idx} 条", "body", raw_body, "BLOB"))
            # The tree cannot be recomputed past an entry whose bytes are lost.
            body = str(raw_body).encode()
        entry = _entry(body)
        if entry is None:
            report.bad(idx, f"第 {idx} 条不是规范化的 JSON（RFC 8785）")
        else:
            committed.note(idx, entry)
        if merkle.leaf_hash(body) != as_bytes(raw_leaf, 32):
            report.bad(idx, f"第 {idx} 条的内容与其叶哈希不符：条目被改动过")
        tree.append(body)
        expected += 1
    report.size = tree.size
    _check_head(session, tree, report)
    _check_nodes(session, tree, report)
    _check_checkpoints(session, tree, verifier_keys, report)
    report.draws = check_draws(session, committed, report.bad)
    check_triggers(session, report.bad)
    return report


def _entry(body: bytes) -> dict[str, Any] | None:
    """The entry, if its bytes are canonical JSON of an object."""
    try:
        entry = json.loads(body)
    except ValueError:
        return None
    if not isinstance(entry, dict) or rfc8785.dumps(entry) != body:
        return None
    return entry


def _check_head(session: Session, tree: merkle.MemoryTree, report: AuditReport) -> None:
    heads = list(rows(session, "SELECT id, size FROM log_head"))
    if len(heads) != 1 or as_int(heads[0][0]) != 1:
        report.bad(None, f"日志头应为 id 为 1 的一行，实有 {len(heads)} 行")
        return
    head = as_int(heads[0][1])
    if head is None:
        report.bad(None, wrong("log_head", 1, "size", heads[0][1], "INTEGER"))
    elif head != tree.size:
        report.bad(min(head, tree.size), f"日志头记录大小 {head}，实有 {tree.size} 条")


def _check_nodes(session: Session, tree: merkle.MemoryTree, report: AuditReport) -> None:
    mismatched = []
    for raw_level, raw_idx, raw_hash in rows(session, "SELECT level, idx, hash FROM log_nodes"):
        level, idx = as_int(raw_level), as_int(raw_idx)
        if level is None or idx is None:
            report.bad(
                None, wrong("log_nodes", (raw_level, raw_idx), "level/idx", raw_idx, "INTEGER")
            )
            continue
        if tree.nodes.get((level, idx)) != as_bytes(raw_hash, 32):
            mismatched.append((level, idx))
    # A changed leaf changes every subtree above it: blame the lowest one, so the
    # report names the entry itself rather than the start of a large subtree.
    leaves = sorted(idx for level, idx in mismatched if level == 0)
    for level, idx in sorted(mismatched):
        first, end = idx << level, (idx + 1) << level
        explained = level > 0 and any(first <= leaf < end for leaf in leaves)
        if report.first_bad_index is not None and first <= report.first_bad_index < end:
            explained = explained or level > 0
        report.bad(
            None if explained else first,
            f"存储的子树哈希（层 {level}，序号 {idx}）与重算结果不符，涉及第 {first}–{end - 1} 条",
        )


def _check_checkpoints(
    session: Session, tree: merkle.MemoryTree, verifier_keys: list[str], report: AuditReport
) -> None:
    for raw_size, raw_root, raw_note in rows(
        session, "SELECT size, root_hash, note FROM log_checkpoints ORDER BY size"
    ):
        report.checkpoints += 1
        size, root, note = as_int(raw_size), as_bytes(raw_root, 32), as_text(raw_note)
        if size is None or root is None or note is None:
            column, value, wanted = next(
                c
                for c in (
                    ("size", raw_size, "INTEGER") if size is None else None,
                    ("root_hash", raw_root, "32 字节的 BLOB") if root is None else None,
                    ("note", raw_note, "TEXT") if note is None else None,
                )
                if c is not None
            )
            report.bad(None, wrong("log_checkpoints", f"大小 {raw_size}", column, value, wanted))
            continue
        try:
            signed = parse_checkpoint(open_note(note, verifier_keys))
        except NoteError as exc:
            report.bad(None, f"大小为 {size} 的检查点签名无效：{exc}")
            continue
        if signed.size != size or signed.root != root:
            report.bad(None, f"大小为 {size} 的检查点与其签名内容不符")
        if signed.size > tree.size:
            report.bad(tree.size, f"检查点声称有 {signed.size} 条，日志只有 {tree.size} 条")
        elif tree.root(signed.size) != signed.root:
            report.bad(None, f"大小为 {signed.size} 的已签名检查点与重算的日志不一致")
