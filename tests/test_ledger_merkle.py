"""RFC 9162 hashing and proofs, against the Certificate Transparency reference
vectors and a naive recursive implementation written here from the RFC."""

from __future__ import annotations

import hashlib

import pytest

from app.ledger import merkle

# The Certificate Transparency reference test data (merkle_tree_test.cc, also
# used by trillian and transparency-dev): eight leaves and the root after each.
CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [  # (leaf index, tree size, audit path)
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CT_CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


# -- a naive implementation, straight from RFC 9162 section 2.1 ---------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return _h(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return _path(m, leaves[:k]) + [_mth(leaves[k:])]
    return _path(m - k, leaves[k:]) + [_mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [_mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_mth(leaves[:k])]


def _tree(leaves: list[bytes]) -> merkle.MemoryTree:
    tree = merkle.MemoryTree()
    for leaf in leaves:
        tree.append(leaf)
    return tree


LEAVES_64 = [f"entry {i}".encode() for i in range(64)]
TREE_64 = _tree(LEAVES_64)


def test_known_values_of_the_spec() -> None:
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_certificate_transparency_roots() -> None:
    tree = _tree(CT_LEAVES)
    assert [tree.root(n).hex() for n in range(1, 9)] == CT_ROOTS


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_certificate_transparency_inclusion(index: int, size: int, path: list[str]) -> None:
    tree = _tree(CT_LEAVES)
    proof = merkle.inclusion_proof(index, size, tree.nodes)
    assert [p.hex() for p in proof] == path
    leaf = merkle.leaf_hash(CT_LEAVES[index])
    assert merkle.verify_inclusion(leaf, index, size, proof, bytes.fromhex(CT_ROOTS[size - 1]))


@pytest.mark.parametrize(("first", "second", "path"), CT_CONSISTENCY)
def test_certificate_transparency_consistency(first: int, second: int, path: list[str]) -> None:
    tree = _tree(CT_LEAVES)
    proof = merkle.consistency_proof(first, second, tree.nodes)
    assert [p.hex() for p in proof] == path
    assert merkle.verify_consistency(
        first,
        second,
        proof,
        bytes.fromhex(CT_ROOTS[first - 1]),
        bytes.fromhex(CT_ROOTS[second - 1]),
    )


def test_every_root_matches_the_naive_definition() -> None:
    for size in range(0, 65):
        assert TREE_64.root(size) == _mth(LEAVES_64[:size])


def test_every_inclusion_proof_up_to_64() -> None:
    for size in range(1, 65):
        root = TREE_64.root(size)
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, TREE_64.nodes)
            assert proof == _path(index, LEAVES_64[:size])
            leaf = merkle.leaf_hash(LEAVES_64[index])
            assert merkle.verify_inclusion(leaf, index, size, proof, root)
            if size > 1:
                assert not merkle.verify_inclusion(leaf, (index + 1) % size, size, proof, root)


def test_every_consistency_proof_up_to_64() -> None:
    for second in range(1, 65):
        root2 = TREE_64.root(second)
        for first in range(1, second + 1):
            proof = merkle.consistency_proof(first, second, TREE_64.nodes)
            expected = [] if first == second else _subproof(first, LEAVES_64[:second], True)
            assert proof == expected
            root1 = TREE_64.root(first)
            assert merkle.verify_consistency(first, second, proof, root1, root2)
            if first < second:
                assert not merkle.verify_consistency(first, second, proof, root2, root1)


def _flip(data: bytes) -> bytes:
    return bytes([data[0] ^ 1]) + data[1:]


def test_tampered_inclusion_proofs_fail() -> None:
    size, index = 37, 21
    root = TREE_64.root(size)
    leaf = merkle.leaf_hash(LEAVES_64[index])
    proof = merkle.inclusion_proof(index, size, TREE_64.nodes)
    assert merkle.verify_inclusion(leaf, index, size, proof, root)
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = _flip(bad[i])
        assert not merkle.verify_inclusion(leaf, index, size, bad, root)
    assert not merkle.verify_inclusion(_flip(leaf), index, size, proof, root)
    assert not merkle.verify_inclusion(leaf, index, size, proof, _flip(root))
    assert not merkle.verify_inclusion(leaf, index + 1, size, proof, root)
    # A proof does not authenticate the tree size by itself (a neighbouring size
    # with the same path shape verifies too): the size is bound by the signed
    # checkpoint. Sizes whose paths differ in shape must fail.
    assert not merkle.verify_inclusion(leaf, index, size * 2, proof, root)
    assert not merkle.verify_inclusion(leaf, index, index, proof, root)
    assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not merkle.verify_inclusion(leaf, index, size, [*proof, proof[0]], root)
    assert not merkle.verify_inclusion(leaf, size, size, proof, root)
    assert not merkle.verify_inclusion(leaf, -1, size, proof, root)


def test_tampered_consistency_proofs_fail() -> None:
    first, second = 13, 50
    root1, root2 = TREE_64.root(first), TREE_64.root(second)
    proof = merkle.consistency_proof(first, second, TREE_64.nodes)
    assert merkle.verify_consistency(first, second, proof, root1, root2)
    for i in range(len(proof)):
        bad = list(proof)
        bad[i] = _flip(bad[i])
        assert not merkle.verify_consistency(first, second, bad, root1, root2)
    assert not merkle.verify_consistency(first, second, proof, _flip(root1), root2)
    assert not merkle.verify_consistency(first, second, proof, root1, _flip(root2))
    assert not merkle.verify_consistency(first + 1, second, proof, root1, root2)
    assert not merkle.verify_consistency(first, second * 2, proof, root1, root2)
    assert not merkle.verify_consistency(first, first + 1, proof, root1, root2)
    assert not merkle.verify_consistency(first, second, proof[:-1], root1, root2)
    assert not merkle.verify_consistency(first, second, [*proof, proof[0]], root1, root2)
    assert not merkle.verify_consistency(second, first, proof, root2, root1)
    assert not merkle.verify_consistency(first, second, [], root1, root2)


def test_proofs_need_only_logarithmically_many_stored_nodes() -> None:
    size = 1_000_000
    for index in (0, 1, 524_287, 524_288, 999_999):
        assert len(merkle.inclusion_proof_nodes(index, size)) <= 2 * size.bit_length()
    assert len(merkle.consistency_proof_nodes(123_457, size)) <= 2 * size.bit_length()
    assert len(merkle.root_nodes(size)) == bin(size).count("1")


def test_append_stores_each_completed_subtree_once() -> None:
    tree = merkle.MemoryTree()
    for i in range(100):
        tree.append(f"{i}".encode())
    # a tree of n leaves has exactly 2n - popcount(n) perfect aligned subtrees
    assert len(tree.nodes) == 2 * 100 - bin(100).count("1")
