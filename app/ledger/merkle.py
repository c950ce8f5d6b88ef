"""RFC 9162 (Certificate Transparency v2) Merkle tree hashing and proofs — pure.

The log stores the hash of every *perfect aligned subtree*: node (level, idx)
covers leaves [idx·2^level, (idx+1)·2^level), level 0 being the leaf hashes.
Every subtree the RFC's recursions name is either such a node or folds from
O(log n) of them, so the functions below first say which nodes they need
(`*_nodes`), the store fetches those in one query, and then they compute.

>>> leaf_hash(b"").hex()[:16]
'6e340b9cffb37a98'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

Coordinate = tuple[int, int]
Nodes = Mapping[Coordinate, bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """SHA-256(0x00 || entry)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# -- appending -----------------------------------------------------------------


def append_siblings(index: int) -> list[Coordinate]:
    """The stored nodes that leaf `index` joins with as it completes subtrees.

    >>> append_siblings(0), append_siblings(3), append_siblings(4)
    ([], [(0, 2), (1, 0)], [])
    """
    needed = []
    level, position = 0, index
    while position & 1:
        needed.append((level, position - 1))
        level, position = level + 1, position >> 1
    return needed


def append_nodes(index: int, leaf: bytes, siblings: Nodes) -> list[tuple[int, int, bytes]]:
    """The new (level, idx, hash) nodes once leaf `index` is appended."""
    out = [(0, index, leaf)]
    level, position, current = 0, index, leaf
    while position & 1:
        current = node_hash(siblings[(level, position - 1)], current)
        level, position = level + 1, position >> 1
        out.append((level, position, current))
    return out


# -- subtree hashes ------------------------------------------------------------


def _range_nodes(lo: int, hi: int, out: set[Coordinate]) -> None:
    """Collect the perfect subtrees MTH(D[lo:hi]) folds from (lo aligned as the RFC's are)."""
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        out.add((n.bit_length() - 1, lo // n))
        return
    k = _split(n)
    _range_nodes(lo, lo + k, out)
    _range_nodes(lo + k, hi, out)


def _range_hash(lo: int, hi: int, nodes: Nodes) -> bytes:
    n = hi - lo
    if n & (n - 1) == 0 and lo % n == 0:
        return nodes[(n.bit_length() - 1, lo // n)]
    k = _split(n)
    return node_hash(_range_hash(lo, lo + k, nodes), _range_hash(lo + k, hi, nodes))


def root_nodes(size: int) -> set[Coordinate]:
    """The nodes the tree head of `size` leaves folds from.

    >>> sorted(root_nodes(6))
    [(1, 2), (2, 0)]
    """
    out: set[Coordinate] = set()
    if size:
        _range_nodes(0, size, out)
    return out


def root_hash(size: int, nodes: Nodes) -> bytes:
    """MTH(D[0:size])."""
    return _range_hash(0, size, nodes) if size else EMPTY_ROOT


# -- inclusion (RFC 9162 2.1.3) ------------------------------------------------


def _path_ranges(index: int, lo: int, hi: int) -> list[tuple[int, int]]:
    """The subtrees of PATH(index, D[lo:hi]), leaf side first."""
    ranges: list[tuple[int, int]] = []
    while hi - lo > 1:
        k = _split(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo = lo + k
    return ranges[::-1]


def inclusion_proof_nodes(index: int, size: int) -> set[Coordinate]:
    """The nodes the inclusion proof of `index` in a tree of `size` needs."""
    out: set[Coordinate] = set()
    for lo, hi in _path_ranges(index, 0, size):
        _range_nodes(lo, hi, out)
    return out


def inclusion_proof(index: int, size: int, nodes: Nodes) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path, nearest the leaf first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    return [_range_hash(lo, hi, nodes) for lo, hi in _path_ranges(index, 0, size)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `proof` show leaf `index` in the tree with `root`?"""
    if index < 0 or index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0 or len(p) != 32:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


# -- consistency (RFC 9162 2.1.4) ----------------------------------------------


def _subproof_ranges(m: int, lo: int, hi: int, complete: bool) -> list[tuple[int, int]]:
    """The subtrees of SUBPROOF(m, D[lo:hi], complete), in proof order."""
    n = hi - lo
    if m == n:
        return [] if complete else [(lo, hi)]
    k = _split(n)
    if m <= k:
        return _subproof_ranges(m, lo, lo + k, complete) + [(lo + k, hi)]
    return _subproof_ranges(m - k, lo + k, hi, False) + [(lo, lo + k)]


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from {first} to {second}")
    if first == 0 or first == second:
        return []
    return _subproof_ranges(first, 0, second, True)


def consistency_proof_nodes(first: int, second: int) -> set[Coordinate]:
    """The nodes the consistency proof from `first` to `second` needs."""
    out: set[Coordinate] = set()
    for lo, hi in _consistency_ranges(first, second):
        _range_nodes(lo, hi, out)
    return out


def consistency_proof(first: int, second: int, nodes: Nodes) -> list[bytes]:
    """PROOF(first, D[0:second])."""
    return [_range_hash(lo, hi, nodes) for lo, hi in _consistency_ranges(first, second)]


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the tree of `second` extends that of `first`?"""
    if first < 0 or first > second or any(len(p) != 32 for p in proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0


class MemoryTree:
    """An in-memory log built on the same functions (tests, the audit command)."""

    def __init__(self) -> None:
        self.nodes: dict[Coordinate, bytes] = {}
        self.size = 0

    def append(self, entry: bytes) -> int:
        """Append one entry; return its index."""
        index = self.size
        for level, idx, h in append_nodes(index, leaf_hash(entry), self.nodes):
            self.nodes[(level, idx)] = h
        self.size += 1
        return index

    def root(self, size: int | None = None) -> bytes:
        """The tree head at `size` (default: now)."""
        return root_hash(self.size if size is None else size, self.nodes)
