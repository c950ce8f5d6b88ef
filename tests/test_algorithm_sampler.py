"""Tickets and "take k" against Rivest's consistent_sampler and the naive sort."""

from __future__ import annotations

import hashlib

import consistent_sampler
from hypothesis import given, settings
from hypothesis import strategies as st

from app.algorithm.tickets import (
    _take_bucketed,
    order,
    seed_hash,
    take,
    ticket,
    ticket_int,
    ticket_text,
)

# Keys per spec section 2: non-empty, no ":" and no white space; no lone
# surrogates, which have no UTF-8 form.
KEY_CHARS = st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), exclude_characters=":")
ids_strategy = st.lists(st.text(KEY_CHARS, min_size=1, max_size=12), unique=True, max_size=60)
seeds = st.text(st.characters(codec="utf-8"), max_size=40)


def naive_first(seed: str, ids: list[str], k: int) -> list[tuple[str, str]]:
    """The spec read literally: every ticket written out in full, sorted, first k."""
    hashed = hashlib.sha256(seed.encode()).hexdigest()
    tickets = []
    for i in ids:
        n = int(hashlib.sha256((hashed + i).encode()).hexdigest(), 16)
        tickets.append(("0." + str(n).rjust(64, "0")[::-1], i))
    return sorted(tickets)[:k]


@given(ids=ids_strategy, seed=seeds, data=st.data())
@settings(max_examples=300, deadline=None)
def test_take_equals_consistent_sampler(ids: list[str], seed: str, data: st.DataObject) -> None:
    k = data.draw(st.integers(min_value=0, max_value=len(ids)))
    expected = list(consistent_sampler.sampler(ids, seed=seed, take=k, output="id"))
    assert [i for _, i in take(seed, ids, k)] == expected


@given(id=st.text(KEY_CHARS, min_size=1, max_size=20), seed=seeds)
def test_ticket_equals_consistent_sampler_first_fraction(id: str, seed: str) -> None:
    assert ticket(seed, id) == consistent_sampler.first_fraction(id, seed)


@given(ids=ids_strategy, seed=seeds, digits=st.integers(1, 4), data=st.data())
@settings(max_examples=300, deadline=None)
def test_bucketed_take_equals_naive_sort(
    ids: list[str], seed: str, digits: int, data: st.DataObject
) -> None:
    # Few digits means few buckets: many ids share a prefix and k often falls
    # inside a bucket, the cases the exactness argument has to cover.
    k = data.draw(st.integers(min_value=1, max_value=max(1, len(ids))))
    assert _take_bucketed(seed_hash(seed), ids, k, digits) == naive_first(seed, ids, k)


def test_large_take_equals_naive_sort_and_sampler() -> None:
    ids = [f"91430400{i:010d}" for i in range(20_000)]
    for seed in ("dice/38274619283746529183/x", "s", "种子"):
        for k in (1, 7, 50, 999, 4_000, 19_999, 20_000):
            fast = take(seed, ids, k)
            assert fast == naive_first(seed, ids, k)
        ranked = list(consistent_sampler.sampler(ids, seed=seed, take=50, output="id"))
        assert [i for _, i in take(seed, ids, 50)] == ranked


def test_prefix_ties_straddle_k() -> None:
    """k ends inside a bucket of tickets sharing their first digits."""
    seed = "tie"
    ids = [f"u{i}" for i in range(3_000)]
    hashed = seed_hash(seed)
    first = order(seed, ids)
    # The two best tickets share a first digit with 300-odd others.
    assert first[0][0][2] == first[1][0][2]
    for k in (1, 2, 3, 150, 301):
        assert _take_bucketed(hashed, ids, k, 1) == first[:k]


def test_ticket_text_pads_and_reverses() -> None:
    assert ticket_text(0) == "0." + "0" * 64
    assert ticket_text(10**70 + 5) == "0.5" + "0" * 69 + "1"
    assert len(ticket_text(2**256 - 1)) == 2 + 78


def test_shorter_ticket_orders_as_a_string() -> None:
    # Tickets have 64 to 78 digits and are compared as strings: "0.1" + 63
    # zeros is a prefix of "0.1" + 63 zeros + "1", so it sorts first.
    assert ticket_text(1) < ticket_text(10**64 + 1)


def test_ticket_int_is_sha256_of_seed_hash_and_id() -> None:
    hashed = seed_hash("01382438112797316654")
    assert hashed == hashlib.sha256(b"01382438112797316654").hexdigest()
    digest = hashlib.sha256((hashed + "AB-130").encode()).digest()
    assert ticket_int(hashed, "AB-130") == int.from_bytes(digest, "big")


def test_take_edges() -> None:
    assert take("s", ["a", "b"], 0) == []
    assert take("s", ["a", "b"], 5) == order("s", ["a", "b"])
    assert take("s", [], 3) == []
