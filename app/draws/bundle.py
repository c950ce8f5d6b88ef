"""The verification bundle: everything anyone needs to re-run and check one draw."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from app.draws.listing import replacements
from app.draws.models import Draw
from app.ledger import cosigned
from app.ledger import store as ledger
from app.ledger.keys import Signer
from app.ledger.models import Checkpoint


def replacement_of(session: Session, draw: Draw) -> str | None:
    """The public id of the latest draw that replaced this one, if any."""
    return replacements(session, [draw.id]).get(draw.id)


def proving_checkpoint(session: Session, signer: Signer) -> Checkpoint:
    """The checkpoint that bundles and public notices cite: the latest signed one
    (every ceremony step's is signed after its commit, by the ledger's hook)."""
    return ledger.signed_checkpoint(session, signer)


def draw_bundle(session: Session, draw: Draw, signer: Signer) -> dict[str, Any]:
    """The draw, its standing, and each of its log entries with an inclusion proof."""
    indexes = ledger.entries_of_draw(session, draw.public_id)
    # Every entry of the draw, proved: one committed a moment ago, before its
    # checkpoint, is a 503 to ask again, never a bundle that leaves it out.
    checkpoint = ledger.signed_checkpoint(
        session, signer, covering=indexes[-1] if indexes else None
    )
    entries = []
    for index in indexes:
        row = ledger.entry(session, index)
        entries.append(
            {
                "index": index,
                "entry": json.loads(row.body),
                "entry_b64": ledger.b64(row.body),
                "inclusion_proof": [
                    ledger.b64(h) for h in ledger.inclusion_proof(session, index, checkpoint.size)
                ],
            }
        )
    replaces = session.get(Draw, draw.replaces_id) if draw.replaces_id else None
    return {
        "format": "shuangsui-bundle/1",
        "draw": draw.public_id,
        "frame": json.loads(draw.frame_jcs),
        "frame_hash": draw.frame_hash,
        "seed": draw.seed,
        "result": json.loads(draw.result_jcs) if draw.result_jcs else None,
        "result_hash": draw.result_hash,
        "failure": draw.failure,
        "status": draw.status,
        "annulment": draw.annulment,
        "replaces": replaces.public_id if replaces else None,
        "replaced_by": replacement_of(session, draw),
        "seed_detail": draw.seed_detail,
        "announcement": draw.announcement,
        "log": {
            "origin": signer.name,
            "verifier_key": signer.verifier_key,
            "checkpoint": ledger.published_note(session, checkpoint),
            # Which witnesses' cosignatures the checkpoint above carries.
            "cosignatures": cosigned.listed(session, checkpoint.size),
            "tree_size": checkpoint.size,
            "root_hash": ledger.b64(checkpoint.root_hash),
            "entries": entries,
        },
    }
