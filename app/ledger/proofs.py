"""C2SP tlog-proof@v1 for a draw's result entry: offline proof that the result is logged.

    c2sp.org/tlog-proof@v1
    extra <base64 of the entry's exact bytes (RFC 8785)>
    index <the entry's index>
    <inclusion proof hashes, base64, the leaf's sibling first>

    <the checkpoint as served, with its cosignatures>

The `extra` line carries the entry so that a verifier can compute the leaf hash
(tlog-proof step 1); it is authenticated only by the inclusion proof.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.ledger import store
from app.ledger.keys import Signer
from app.ledger.kinds import EntryKind
from app.ledger.models import LogEntry

HEADER = "c2sp.org/tlog-proof@v1"
MEDIA_TYPE = "text/plain; charset=utf-8"
EXTENSION = "tlog-proof"


def format_proof(entry: bytes, index: int, proof: list[bytes], checkpoint_note: str) -> str:
    """The tlog-proof text (its checkpoint must be a signed note ending in a newline)."""
    lines = [HEADER, f"extra {store.b64(entry)}", f"index {index}"]
    lines += [store.b64(h) for h in proof]
    return "\n".join(lines) + "\n\n" + checkpoint_note


@dataclass(frozen=True, slots=True)
class DrawProof:
    index: int
    tree_size: int
    text: str


def result_proof(session: Session, signer: Signer, public_id: str) -> DrawProof:
    """The proof of the draw's result entry in the latest checkpoint covering it."""
    row = session.scalars(
        select(LogEntry)
        .where(LogEntry.draw == public_id, LogEntry.kind == EntryKind.RESULT)
        .order_by(LogEntry.idx)
        .limit(1)
    ).first()
    if row is None:
        raise NotFound(f"抽查 {public_id} 在公开日志中没有结果条目（尚未完成或未能完成）")
    checkpoint = store.signed_checkpoint(session, signer, covering=row.idx)
    proof = store.inclusion_proof(session, row.idx, checkpoint.size)
    note = store.published_note(session, checkpoint)
    return DrawProof(row.idx, checkpoint.size, format_proof(row.body, row.idx, proof, note))
