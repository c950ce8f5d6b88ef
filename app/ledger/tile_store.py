"""The log's tiles and entry bundles, read from the stored nodes and entries.

Every tile is a range of stored perfect-subtree hashes (app.ledger.tiles says
which), so a tile is one indexed range query and is never rehashed. Only tiles
within the latest signed checkpoint exist: what is served is always covered by
a signature.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.ledger import store
from app.ledger.models import LogEntry, LogNode
from app.ledger.tiles import (
    ENTRIES,
    Tile,
    TilePathError,
    bundle_bytes,
    entry_range,
    node_coordinates,
    parse_tile_path,
    tile_bytes,
    tile_path,
)


def signed_size(session: Session) -> int:
    """The size of the latest signed checkpoint (0 before the first)."""
    latest = store.latest_checkpoint(session)
    return latest.size if latest is not None else 0


def tile_contents(session: Session, tile: Tile) -> bytes:
    """The bytes of a hash tile or entry bundle the stored log holds."""
    if tile.level == ENTRIES:
        first, count = entry_range(tile)
        bodies = list(
            session.scalars(
                select(LogEntry.body)
                .where(LogEntry.idx >= first, LogEntry.idx < first + count)
                .order_by(LogEntry.idx)
            )
        )
        if len(bodies) != count:
            raise store.LogInconsistent(f"公开日志缺少条目 {first}–{first + count - 1}")
        return bundle_bytes([bytes(b) for b in bodies], tile)
    level, first, count = node_coordinates(tile)
    hashes = list(
        session.scalars(
            select(LogNode.hash)
            .where(LogNode.level == level, LogNode.idx >= first, LogNode.idx < first + count)
            .order_by(LogNode.idx)
        )
    )
    if len(hashes) != count:
        raise store.LogInconsistent(f"公开日志缺少瓦片 {tile_path(tile)} 的节点")
    return tile_bytes([bytes(h) for h in hashes], tile)


def published_tile(session: Session, path: str) -> tuple[Tile, bytes]:
    """The tile at `path` (below the prefix) if the latest checkpoint covers it; else NotFound."""
    try:
        tile = parse_tile_path(path)
    except TilePathError as exc:
        raise NotFound(f"没有这个瓦片：{path[:120]}（路径须符合 C2SP tlog-tiles）") from exc
    size = signed_size(session)
    if tile.covers > size:
        raise NotFound(f"瓦片 {tile_path(tile)} 超出已签名检查点的大小 {size}")
    return tile, tile_contents(session, tile)
