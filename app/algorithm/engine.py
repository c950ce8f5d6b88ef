"""The draw: frame + seed -> result (spec section 8), and what can be said before it.

>>> from app.algorithm.canonical import frame_hash
>>> from app.algorithm.seeds import make_seed
>>> frame = {"algorithm": "draw/1", "inspectors": None, "cross": None,
...          "strata": [{"id": "s", "count": 1, "units": [{"key": "A"}, {"key": "B"}]}]}
>>> result = draw(frame, make_seed("dice", "0" * 20, frame_hash(frame)))
>>> [u["key"] for u in result["strata"][0]["selected"]], result["assignments"]
(['A'], None)
>>> inclusion_probabilities(frame)
{'A': Fraction(1, 2), 'B': Fraction(1, 2)}
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any

from app.algorithm.canonical import frame_hash
from app.algorithm.cross import pair
from app.algorithm.frame import ALGORITHM, parse_frame
from app.algorithm.seeds import check_seed
from app.algorithm.strata import select
from app.algorithm.teams import assign


def check_frame(frame: Mapping[str, Any]) -> None:
    """Refuse, with a FrameError, a frame that must not be committed (spec section 3).

    Values that are not canonical JSON (NaN, lone surrogates, huge integers in
    attrs) are refused by `frame_hash`, which the commitment computes next.
    """
    parse_frame(frame)


def draw(
    frame: Mapping[str, Any], seed: str, *, committed_hash: str | None = None
) -> dict[str, Any]:
    """The result of drawing `frame` with `seed`, exactly as spec section 8 writes it.

    `committed_hash` is the frame's hash when the caller holds the committed JCS
    bytes the frame was read from (the service does): serializing a frame of a
    million units again would take seconds to learn the same 64 digits.
    """
    parsed = parse_frame(frame)
    hashed = committed_hash if committed_hash is not None else frame_hash(frame)
    check_seed(seed, hashed)
    strata = [select(stratum, seed) for stratum in parsed.strata]
    assignments = None
    if parsed.inspectors is not None:
        attrs_of = {
            key: attrs
            for stratum in parsed.strata
            for key, attrs in zip(stratum.keys, stratum.attrs, strict=True)
        }
        # Spec section 6: units are served in result order.
        served = [(u["key"], attrs_of[u["key"]]) for s in strata for u in s["selected"]]
        assignments = assign(parsed.inspectors, served, seed)
    pairs = pair(parsed.cross, seed) if parsed.cross is not None else None
    return {
        "algorithm": ALGORITHM,
        "frame_hash": hashed,
        "seed": seed,
        "strata": strata,
        "assignments": assignments,
        "pairs": pairs,
    }


def inclusion_probabilities(frame: Mapping[str, Any]) -> dict[str, Fraction]:
    """Each unit's exact chance of being selected, over all seeds.

    k/n for count and ratio strata; k_g/n_g in a per_group stratum, times m/G
    when it takes m of its G groups: every k-subset (and every m-subset of
    groups) is equally likely when tickets are uniform.
    """
    chances: dict[str, Fraction] = {}
    for stratum in parse_frame(frame).strata:
        if stratum.by is None:
            share = Fraction(stratum.quota.size(len(stratum.keys)), len(stratum.keys))
            chances.update(dict.fromkeys(stratum.keys, share))
            continue
        groups = len(stratum.groups)
        taken = Fraction(stratum.max_groups if stratum.max_groups is not None else groups, groups)
        for keys in stratum.groups.values():
            chances.update(
                dict.fromkeys(keys, taken * Fraction(stratum.quota.size(len(keys)), len(keys)))
            )
    return chances
