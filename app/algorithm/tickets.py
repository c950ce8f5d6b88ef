"""Tickets and "take k" (spec section 1).

A ticket is `"0." + reversed(decimal digits of SHA-256(seed_hash + id), padded to 64)`,
exactly the first-generation ticket of Rivest's `consistent_sampler`.
Candidates are ordered by `(ticket, id)` as strings.

>>> ticket("01382438112797316654", "AB-130")
'0.26299714122838008416507544297546663599715395525154425586041245287750224561854'
>>> take("seed", ["a", "b", "c", "d"], 2) == order("seed", ["a", "b", "c", "d"])[:2]
True
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence

Ticketed = tuple[str, str]
"""A candidate with its ticket, `(ticket, id)`: tuples of these sort in draw order."""

# Below this many candidates a plain sort of full tickets is as fast as anything.
_NAIVE_BELOW = 1024


def seed_hash(seed: str) -> str:
    """Lowercase hex SHA-256 of the seed, the prefix of every ticket's hash input."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()


def ticket_int(hashed_seed: str, id: str) -> int:
    """`n` of the spec: SHA-256(seed_hash + id) as a big-endian integer."""
    digest = hashlib.sha256((hashed_seed + id).encode("utf-8")).digest()
    return int.from_bytes(digest, "big")


def ticket_text(n: int) -> str:
    """The ticket string of `n`: "0." and its decimal digits, padded to 64, reversed.

    >>> ticket_text(12)
    '0.2100000000000000000000000000000000000000000000000000000000000000'
    """
    return "0." + f"{n:064d}"[::-1]


def ticket(seed: str, id: str) -> str:
    """The ticket of `id` under `seed`."""
    return ticket_text(ticket_int(seed_hash(seed), id))


def order(seed: str, ids: Iterable[str]) -> list[Ticketed]:
    """Every id with its ticket, in draw order: the spec's definition, literally."""
    return order_hashed(seed_hash(seed), ids)


def take(seed: str, ids: Sequence[str], k: int) -> list[Ticketed]:
    """The first `k` of `order(seed, ids)`, fast on large candidate lists."""
    if k <= 0:
        return []
    if k >= len(ids) or len(ids) < _NAIVE_BELOW:
        return order(seed, ids)[:k]
    return _take_bucketed(seed_hash(seed), ids, k, _bucket_digits(len(ids)))


def _bucket_digits(n: int) -> int:
    """How many leading ticket digits to bucket by: about ten candidates a bucket."""
    return max(1, min(6, len(str(n)) - 2))


def _take_bucketed(hashed_seed: str, ids: Sequence[str], k: int, d: int) -> list[Ticketed]:
    """The first `k` of the draw order, writing out only the tickets that can matter.

    Why this is exact. Every ticket has at least 64 digits after "0.", and its
    first d of them (d <= 64) are the lowest d decimal digits of n, reversed:
    they are determined by `r = n mod 10**d`. Call them the ticket's prefix.
    Tickets are compared as strings; all begin with "0.", so two tickets with
    different prefixes are ordered by their prefixes alone, whatever follows.
    Put each id in the bucket of its r, and walk the buckets in ascending order
    of their prefix until at least k ids are seen; let P be the last prefix
    walked. An id whose prefix is greater than P has at least k ids with a
    smaller prefix, hence at least k strictly smaller tickets, so it is not
    among the first k. Every id of the first k is therefore in a walked bucket,
    and sorting the walked buckets by full `(ticket, id)` gives the first k
    exactly, ties of prefixes (and, in theory, of tickets) included.

    Only the integers r are kept for all ids; full tickets are written for
    the walked buckets alone, about k + 10 ids.
    """
    modulus = 10**d
    # The hashed seed is 64 ASCII bytes, exactly one SHA-256 block: hash it
    # once and continue from a copy of that state for each id.
    after_seed = hashlib.sha256(hashed_seed.encode("utf-8"))
    copy, from_bytes = after_seed.copy, int.from_bytes
    buckets = []
    for i in ids:
        hasher = copy()
        hasher.update(i.encode("utf-8"))
        buckets.append(from_bytes(hasher.digest(), "big") % modulus)
    sizes = Counter(buckets)
    walked: set[int] = set()
    seen = 0
    for prefix in range(modulus):
        # The bucket whose prefix reads `prefix` holds the n with n mod 10**d
        # equal to that prefix's digits read backwards.
        r = int(f"{prefix:0{d}d}"[::-1])
        if r in sizes:
            walked.add(r)
            seen += sizes[r]
            if seen >= k:
                break
    candidates = [i for i, r in zip(ids, buckets, strict=True) if r in walked]
    return order_hashed(hashed_seed, candidates)[:k]


def order_hashed(hashed_seed: str, ids: Iterable[str]) -> list[Ticketed]:
    """Like `order`, for a seed already hashed."""
    return sorted((ticket_text(ticket_int(hashed_seed, i)), i) for i in ids)
