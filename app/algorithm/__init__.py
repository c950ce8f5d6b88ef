"""draw/1, exactly as shared/spec/draw-algorithm.md writes it: pure, no I/O.

Frames, seeds and results are the spec's JSON objects as plain Python dicts.

    check_frame(frame)               refuse a frame that must not be committed
    frame_hash(frame)                the commitment: SHA-256 of the JCS bytes
    make_seed(source, value, hash)   "dice/<digits>/<hash>", "drand/quicknet:<r>:<hex>/<hash>" or "dice+drand/<digits>:quicknet:<r>:<hex>/<hash>"
    draw(frame, seed)                the result object
    result_hash(result)              SHA-256 of the result's JCS bytes
    ticket(seed, id)                 one ticket, as consistent_sampler writes it
    inclusion_probabilities(frame)   each unit's exact chance of selection

Every refusal is a FrameError with a stable `code` and `details()`.
"""

from app.algorithm.canonical import frame_hash, jcs, result_hash, sha256_hex
from app.algorithm.engine import check_frame, draw, inclusion_probabilities
from app.algorithm.errors import (
    FrameError,
    FrameInvalid,
    NoDerangement,
    QuotaInfeasible,
    SeedInvalid,
    TeamIncomplete,
)
from app.algorithm.frame import ALGORITHM
from app.algorithm.quotas import parse_ratio
from app.algorithm.seeds import check_seed, make_seed
from app.algorithm.tickets import ticket

__all__ = [
    "ALGORITHM",
    "FrameError",
    "FrameInvalid",
    "NoDerangement",
    "QuotaInfeasible",
    "SeedInvalid",
    "TeamIncomplete",
    "check_frame",
    "check_seed",
    "draw",
    "frame_hash",
    "inclusion_probabilities",
    "jcs",
    "make_seed",
    "parse_ratio",
    "result_hash",
    "sha256_hex",
    "ticket",
]
