"""Re-read the whole log and check it: the auditor's `shuangsui audit-log`.

Recomputes every leaf and subtree hash from the stored entry bytes, checks the
indexes run from 0 without a gap, that every entry is canonical JSON, that every
stored node matches, and that every checkpoint is signed by the log's key and
commits to the recomputed tree. Names the first index where anything differs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ledger import merkle
from app.ledger.checkpoint import NoteError, open_note, parse_checkpoint
from app.ledger.models import Checkpoint, LogEntry, LogHead, LogNode


@dataclass
class AuditReport:
    """What the audit found; `ok` only if nothing differs."""

    size: int = 0
    checkpoints: int = 0
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
    expected = 0
    for row in session.execute(
        select(LogEntry.idx, LogEntry.body, LogEntry.leaf_hash).order_by(LogEntry.idx)
    ):
        if row.idx != expected:
            report.bad(expected, f"第 {expected} 条缺失（下一条是第 {row.idx} 条）")
            expected = row.idx
        body = bytes(row.body)
        try:
            canonical = rfc8785.dumps(json.loads(body)) == body
        except ValueError:
            canonical = False
        if not canonical:
            report.bad(row.idx, f"第 {row.idx} 条不是规范化的 JSON（RFC 8785）")
        if merkle.leaf_hash(body) != bytes(row.leaf_hash):
            report.bad(row.idx, f"第 {row.idx} 条的内容与其叶哈希不符：条目被改动过")
        tree.append(body)
        expected += 1
    report.size = tree.size
    head = session.scalar(select(LogHead.size).where(LogHead.id == 1))
    if head != tree.size:
        report.bad(min(head or 0, tree.size), f"日志头记录大小 {head}，实有 {tree.size} 条")
    mismatched = [
        (node.level, node.idx)
        for node in session.execute(select(LogNode.level, LogNode.idx, LogNode.hash))
        if tree.nodes.get((node.level, node.idx)) != bytes(node.hash)
    ]
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
    for checkpoint in session.scalars(select(Checkpoint).order_by(Checkpoint.size)):
        report.checkpoints += 1
        try:
            signed = parse_checkpoint(open_note(checkpoint.note, verifier_keys))
        except NoteError as exc:
            report.bad(None, f"大小为 {checkpoint.size} 的检查点签名无效：{exc}")
            continue
        if signed.size != checkpoint.size or signed.root != bytes(checkpoint.root_hash):
            report.bad(None, f"大小为 {checkpoint.size} 的检查点与其签名内容不符")
        if signed.size > tree.size:
            report.bad(tree.size, f"检查点声称有 {signed.size} 条，日志只有 {tree.size} 条")
        elif tree.root(signed.size) != signed.root:
            report.bad(
                None,
                f"大小为 {signed.size} 的已签名检查点与重算的日志不一致",
            )
    return report
