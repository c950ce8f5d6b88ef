"""C2SP tlog-proof@v1 files: parsed strictly, verified offline against a policy.

c2sp.org/tlog-proof@v1
extra <base64>            (optional; here: the log entry's exact bytes)
index <decimal>
<base64 hash>...          (the inclusion proof, leaf's sibling first)
<empty line>
<the checkpoint, verbatim, with its signatures and cosignatures>
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .canonical import jcs
from .merkle import verify_inclusion
from .note import NoteError, decimal, strict_b64
from .policy import Accepted, Policy, accept

HEADER = "c2sp.org/tlog-proof@v1"
MAX_PROOF_HASHES = 64


@dataclass(frozen=True, slots=True)
class TlogProof:
    extra: bytes | None
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str  # the signed note


def parse_proof(text: str) -> TlogProof:
    head, sep, checkpoint = text.partition("\n\n")
    lines = head.split("\n")
    if not sep or lines[0] != HEADER:
        raise NoteError(f"not a {HEADER} proof")
    rest = lines[1:]
    extra = None
    if rest and rest[0].startswith("extra "):
        extra = strict_b64(rest.pop(0).removeprefix("extra "))
    if not rest or not rest[0].startswith("index "):
        raise NoteError("the proof has no index line")
    index = decimal(rest.pop(0).removeprefix("index "), "index")
    if len(rest) > MAX_PROOF_HASHES:
        raise NoteError("the inclusion proof is too long")
    hashes = tuple(strict_b64(line) for line in rest)
    if any(len(h) != 32 for h in hashes):
        raise NoteError("an inclusion proof hash is not 32 bytes")
    return TlogProof(extra, index, hashes, checkpoint)


@dataclass(frozen=True, slots=True)
class Proven:
    accepted: Accepted
    index: int
    entry: dict[str, Any]


def verify_proof(proof: TlogProof, policy: Policy) -> Proven:
    """The logged entry the proof carries, if the policy accepts its checkpoint and the
    entry is included in it; NoteError otherwise. The entry's bytes come from the
    `extra` line: unauthenticated until the inclusion proof binds them to the root."""
    accepted = accept(proof.checkpoint, policy)
    if proof.extra is None:
        raise NoteError("the proof carries no entry (no extra line)")
    checkpoint = accepted.checkpoint
    if not verify_inclusion(
        proof.extra, proof.index, checkpoint.size, list(proof.hashes), checkpoint.root
    ):
        raise NoteError(
            f"entry {proof.index} is not included in the checkpoint of size {checkpoint.size}"
        )
    try:
        entry = json.loads(proof.extra.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise NoteError("the logged entry is not JSON") from exc
    if not isinstance(entry, dict) or jcs(entry) != proof.extra:
        raise NoteError("the logged entry is not canonical JSON")
    return Proven(accepted, proof.index, entry)
