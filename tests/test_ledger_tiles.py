"""The tile core against the C2SP tlog-tiles text and Go's golang.org/x/mod/sumdb/tlog.

Tile contents are checked against tests/go/vectors/tiles-70000.txt, written by
tests/go/vectors/main.go with Go's own tile code (a log whose entry i is
"entry <i>"); paths and tile sets against the examples in the spec's text.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from app.ledger import merkle
from app.ledger.tiles import (
    ENTRIES,
    EntryTooLarge,
    Tile,
    TilePathError,
    bundle_bytes,
    bundles_between,
    encode_index,
    node_coordinates,
    parse_tile_path,
    split_bundle,
    tile_bytes,
    tile_path,
    tiles_between,
    tiles_for_size,
)

VECTORS = Path(__file__).parent / "go" / "vectors" / "tiles-70000.txt"


def test_index_encoding_is_the_specs_example() -> None:
    # "index 1234067 will be encoded as x001/x234/067"
    assert encode_index(1234067) == "x001/x234/067"
    assert parse_tile_path("tile/0/x001/x234/067") == Tile(0, 1234067)
    assert parse_tile_path("tile/3/x001/x234/067.p/255") == Tile(3, 1234067, 255)
    assert parse_tile_path("tile/entries/000.p/1") == Tile(ENTRIES, 0, 1)
    assert parse_tile_path("tile/63/999") == Tile(63, 999)


@pytest.mark.parametrize(
    "path",
    [
        "tile/0/1",  # not three digits
        "tile/0/0001",
        "tile/0/x000/005",  # not canonical: 5 is 005
        "tile/0/001/002",  # all but the last element begin with x
        "tile/0/x001",  # the last element has no x
        "tile/00/000",  # leading zero in the level
        "tile/64/000",  # level above 63
        "tile/-1/000",
        "tile/0/000.p/0",  # empty tiles are never served
        "tile/0/000.p/256",  # a full tile has no .p suffix
        "tile/0/000.p/07",
        "tile/0/000.p/",
        "tile/0/000.p",
        "tile/0/000/",
        "tile/0/",
        "tile/entry/000",
        "tiles/0/000",
        "tile/0/+12",
        "tile/0/١٢٣",  # Arabic-Indic digits are digits to Python, not ASCII
        "tile/٠/000",
        "tile/0/000.p/٥",
        "tile/0/" + "x999/" * 7 + "999",  # more than any 64-bit tree
        "tile/" + "1" * 5000 + "/000",  # longer than Python converts to int
        "tile/0/000.p/" + "1" * 5000,
    ],
)
def test_non_canonical_paths_are_refused(path: str) -> None:
    with pytest.raises(TilePathError):
        parse_tile_path(path)


def test_tree_of_70000_is_the_specs_example() -> None:
    # "273 full level 0 tiles, one partial level 0 tile of width 112, one full
    # level 1 tile, one partial level 1 tile of width 17, and one partial level 2
    # tile of width 1."
    tiles = tiles_for_size(70000)
    assert [t for t in tiles if t.level == 0] == [Tile(0, n) for n in range(273)] + [
        Tile(0, 273, 112)
    ]
    assert [t for t in tiles if t.level > 0] == [Tile(1, 0), Tile(1, 1, 17), Tile(2, 0, 1)]
    # "a tree of size 256 will be represented by a full level 0 tile and a
    # partial level 1 tile of width 1."
    assert tiles_for_size(256) == [Tile(0, 0), Tile(1, 0, 1)]
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [Tile(0, 0, 1)]


def test_new_tiles_are_those_the_bigger_tree_adds() -> None:
    assert tiles_between(5, 261) == [Tile(0, 0), Tile(0, 1, 5), Tile(1, 0, 1)]
    assert tiles_between(70000, 70000) == []
    assert tiles_between(65535, 65536) == [Tile(0, 255), Tile(1, 0), Tile(2, 0, 1)]
    # Level 1 keeps its width 1 from 256 to 300: nothing new there.
    assert tiles_between(256, 300) == [Tile(0, 1, 44)]
    assert bundles_between(255, 257) == [Tile(ENTRIES, 0), Tile(ENTRIES, 1, 1)]
    for old, new in [(0, 70000), (1000, 70000), (3, 3000)]:
        assert set(tiles_between(old, new)) == set(tiles_for_size(new)) - set(tiles_for_size(old))
    with pytest.raises(ValueError):
        tiles_between(2, 1)


def _go_vectors() -> tuple[dict[str, str], dict[int, str]]:
    tiles, roots = {}, {}
    for line in VECTORS.read_text().splitlines():
        words = line.split(" ")
        if words[0] == "root":  # root <size> <base64>
            roots[int(words[1])] = words[2]
        else:  # <path> <sha256 hex of the tile's bytes>
            tiles[words[0]] = words[1]
    return tiles, roots


def test_tile_contents_equal_gos() -> None:
    go_tiles, go_roots = _go_vectors()
    tree = merkle.MemoryTree()
    for i in range(70000):
        tree.append(f"entry {i}".encode())
    for size, root in go_roots.items():
        assert base64.b64encode(tree.root(size)).decode() == root
    ours = {tile_path(t) for t in tiles_for_size(70000)}
    # Go publishes every partial width on the way; ours are among them.
    assert ours <= set(go_tiles)
    assert len(go_tiles) > 400
    for path, digest in go_tiles.items():
        tile = parse_tile_path(path)
        level, first, count = node_coordinates(tile)
        data = tile_bytes([tree.nodes[(level, first + i)] for i in range(count)], tile)
        assert hashlib.sha256(data).hexdigest() == digest, path
        assert len(data) == 32 * tile.width


def test_entry_bundles_are_uint16_length_prefixed() -> None:
    bundle = bundle_bytes([b"ab", b"", b"\x00" * 300], Tile(ENTRIES, 0, 3))
    assert bundle[:6] == b"\x00\x02ab\x00\x00"
    assert bundle[6:8] == b"\x01\x2c"  # 300
    assert split_bundle(bundle) == [b"ab", b"", b"\x00" * 300]
    biggest = b"x" * 65535
    assert bundle_bytes([biggest], Tile(ENTRIES, 0, 1))[:2] == b"\xff\xff"
    with pytest.raises(EntryTooLarge):
        bundle_bytes([biggest + b"x"], Tile(ENTRIES, 0, 1))
    with pytest.raises(ValueError):
        bundle_bytes([b"a"], Tile(ENTRIES, 0, 2))
    for truncated in (b"\x00", b"\x00\x03ab"):
        with pytest.raises(ValueError):
            split_bundle(truncated)
