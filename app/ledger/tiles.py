"""C2SP tlog-tiles: tile coordinates, paths and contents — pure.

A tile at level L and index N holds up to 256 consecutive hashes of the Merkle
tree's level 8·L: hash i (0 ≤ i < W) is MTH(D[(N·256+i)·256^L : (N·256+i+1)·256^L]),
which is the perfect subtree the log stores as node (8·L, N·256+i). An entry
bundle (level `ENTRIES`) holds the entries that level-0 tile hashes, each
prefixed by its length as a big-endian uint16.

>>> tile_path(Tile(0, 1234067, 5))
'tile/0/x001/x234/067.p/5'
>>> parse_tile_path('tile/entries/x001/000')
Tile(level=-1, index=1000, width=256)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

WIDTH = 256  # hashes in a full tile
HEIGHT = 8  # tree levels a tile spans: 256 = 2**8
HASH_SIZE = 32
MAX_LEVEL = 63
ENTRIES = -1  # the "level" of entry bundles
MAX_ENTRY_BYTES = 0xFFFF  # an entry's length is a uint16 in a bundle
# Path elements of an index: 7 of them reach 10**21, beyond any 64-bit tree size.
_MAX_INDEX_ELEMENTS = 7


class TilePathError(ValueError):
    """A path that names no tile (not canonical, out of range, malformed)."""


class EntryTooLarge(ValueError):
    """An entry that an entry bundle cannot hold (more than 65,535 bytes)."""


@dataclass(frozen=True, slots=True)
class Tile:
    """Tile `index` at `level` (ENTRIES for an entry bundle), `width` hashes or entries wide."""

    level: int
    index: int
    width: int = WIDTH

    @property
    def full(self) -> bool:
        return self.width == WIDTH

    @property
    def span(self) -> int:
        """How many entries one hash of this tile covers: 256**level."""
        return int(WIDTH ** max(self.level, 0))

    @property
    def start(self) -> int:
        """The first entry the tile covers (its start index)."""
        return self.index * WIDTH * self.span

    @property
    def covers(self) -> int:
        """The tree size the tile's last hash reaches: start + width·256**level."""
        return (self.index * WIDTH + self.width) * self.span


def encode_index(index: int) -> str:
    """An index as zero-padded 3-digit path elements, all but the last prefixed `x`.

    >>> encode_index(0), encode_index(1000), encode_index(1234067)
    ('000', 'x001/000', 'x001/x234/067')
    """
    if index < 0:
        raise ValueError(f"negative tile index {index}")
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def tile_path(tile: Tile) -> str:
    """The tile's path below the log's prefix.

    >>> tile_path(Tile(2, 0, 1)), tile_path(Tile(ENTRIES, 273))
    ('tile/2/000.p/1', 'tile/entries/273')
    """
    level = "entries" if tile.level == ENTRIES else str(tile.level)
    suffix = "" if tile.full else f".p/{tile.width}"
    return f"tile/{level}/{encode_index(tile.index)}{suffix}"


def _decimal(text: str, low: int, high: int, what: str) -> int:
    """An ASCII decimal in [low, high] with no sign and no leading zero."""
    if not (text.isascii() and text.isdigit()) or (len(text) > 1 and text[0] == "0"):
        raise TilePathError(f"{what} {text[:20]!r} is not a canonical decimal")
    if len(text) > len(str(high)):
        raise TilePathError(f"{what} {text[:20]!r}… is outside {low}..{high}")
    value = int(text)
    if not low <= value <= high:
        raise TilePathError(f"{what} {value} is outside {low}..{high}")
    return value


def parse_tile_path(path: str) -> Tile:
    """The tile a path names, accepting only the canonical form `tile_path` writes."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise TilePathError(f"{path!r} is not a tile path")
    level = ENTRIES if parts[1] == "entries" else _decimal(parts[1], 0, MAX_LEVEL, "level")
    width = WIDTH
    rest = parts[2:]
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        width = _decimal(rest[-1], 1, WIDTH - 1, "width")
        rest = rest[:-2] + [rest[-2][:-2]]
    if len(rest) > _MAX_INDEX_ELEMENTS:
        raise TilePathError(f"{path!r}: the index is too large")
    digits = ""
    for position, element in enumerate(rest):
        if position < len(rest) - 1:
            if not element.startswith("x"):
                raise TilePathError(f"{path!r}: {element!r} must begin with x")
            element = element[1:]
        if len(element) != 3 or not (element.isascii() and element.isdigit()):
            raise TilePathError(f"{path!r}: {element!r} is not three digits")
        digits += element
    tile = Tile(level, int(digits), width)
    if tile_path(tile) != path:  # e.g. x000/005 for 5
        raise TilePathError(f"{path!r} is not the canonical path of {tile_path(tile)!r}")
    return tile


def _levels(size: int) -> Iterator[int]:
    level = 0
    while WIDTH**level <= size:
        yield level
        level += 1


def tiles_between(old_size: int, new_size: int) -> list[Tile]:
    """The hash tiles a tree of `new_size` has that one of `old_size` had not.

    Full tiles that filled up in between, and the partial tiles of `new_size`
    (a tree's partial tile at level L is floor(size / 256**L) mod 256 wide).

    >>> tiles_between(0, 256)
    [Tile(level=0, index=0, width=256), Tile(level=1, index=0, width=1)]
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no tiles from size {old_size} to {new_size}")
    out = []
    for level in _levels(new_size):
        per_tile = WIDTH ** (level + 1)
        out += [Tile(level, n) for n in range(old_size // per_tile, new_size // per_tile)]
        partial = _partial(new_size, level)
        if partial is not None and partial != _partial(old_size, level):
            out.append(partial)
    return out


def _partial(size: int, level: int) -> Tile | None:
    width = (size // WIDTH**level) % WIDTH
    return Tile(level, size // WIDTH ** (level + 1), width) if width else None


def tiles_for_size(size: int) -> list[Tile]:
    """All hash tiles of a tree of `size` (full ones, then each level's partial one)."""
    return tiles_between(0, size)


def bundles_between(old_size: int, new_size: int) -> list[Tile]:
    """The entry bundles of `new_size` that `old_size` had not (as level-0 tiles)."""
    return [
        Tile(ENTRIES, t.index, t.width) for t in tiles_between(old_size, new_size) if t.level == 0
    ]


def node_coordinates(tile: Tile) -> tuple[int, int, int]:
    """The stored nodes a hash tile holds: (tree level, first index, count).

    >>> node_coordinates(Tile(1, 2, 17))
    (8, 512, 17)
    """
    if tile.level == ENTRIES:
        raise ValueError("an entry bundle holds entries, not hashes")
    return HEIGHT * tile.level, tile.index * WIDTH, tile.width


def entry_range(tile: Tile) -> tuple[int, int]:
    """The entries an entry bundle holds: (first index, count)."""
    if tile.level != ENTRIES:
        raise ValueError("a hash tile holds hashes, not entries")
    return tile.index * WIDTH, tile.width


def tile_bytes(hashes: Sequence[bytes], tile: Tile) -> bytes:
    """A hash tile's contents: its hashes concatenated (8,192 bytes when full)."""
    if len(hashes) != tile.width or any(len(h) != HASH_SIZE for h in hashes):
        raise ValueError(f"tile {tile_path(tile)} needs {tile.width} hashes of 32 bytes")
    return b"".join(hashes)


def check_entry_size(entry: bytes) -> None:
    """Refuse an entry longer than an entry bundle's uint16 length prefix allows."""
    if len(entry) > MAX_ENTRY_BYTES:
        raise EntryTooLarge(f"entry of {len(entry)} bytes exceeds {MAX_ENTRY_BYTES}")


def bundle_bytes(entries: Sequence[bytes], tile: Tile) -> bytes:
    """An entry bundle's contents: each entry prefixed by its big-endian uint16 length.

    >>> bundle_bytes([b"ab", b""], Tile(ENTRIES, 0, 2)).hex()
    '000261620000'
    """
    if len(entries) != tile.width:
        raise ValueError(f"bundle {tile_path(tile)} needs {tile.width} entries")
    out = bytearray()
    for entry in entries:
        check_entry_size(entry)
        out += len(entry).to_bytes(2, "big") + entry
    return bytes(out)


def split_bundle(data: bytes) -> list[bytes]:
    """The entries of an entry bundle; ValueError if it is truncated."""
    entries, position = [], 0
    while position < len(data):
        if position + 2 > len(data):
            raise ValueError("entry bundle ends inside a length prefix")
        length = int.from_bytes(data[position : position + 2], "big")
        position += 2
        if position + length > len(data):
            raise ValueError("entry bundle ends inside an entry")
        entries.append(data[position : position + length])
        position += length
    return entries
