"""`shuangsui log export-tiles DIR`: the /tlog/ files in a directory, for any static server.

The directory holds exactly what the service serves under /tlog/ (`checkpoint`,
`tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, entry bundles uncompressed)
and grows incrementally: each run writes only the tiles of the checkpoints
signed since the directory's own checkpoint, every file atomically, tiles
before the checkpoint that needs them. A file already there must hold the
same bytes (tiles never change); a directory that holds another log, or a
larger or different tree than this database, is refused, never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ledger import store
from app.ledger.checkpoint import NoteError, parse_checkpoint
from app.ledger.files import write_atomically
from app.ledger.models import Checkpoint
from app.ledger.tile_store import tile_contents
from app.ledger.tiles import bundles_between, tile_path, tiles_between

CHECKPOINT_FILE = "checkpoint"


class ExportRefused(RuntimeError):
    """The directory cannot take this log's tiles (a Chinese message says why)."""


@dataclass(frozen=True, slots=True)
class Exported:
    size: int
    previous_size: int
    written: int
    kept: int


def _note_body(note: str) -> str:
    text, sep, _ = note.partition("\n\n")
    if not sep:
        raise NoteError("no signature block")
    return text + "\n"


def _exported_size(session: Session, directory: Path, origin: str) -> int:
    """The size of the directory's checkpoint, after checking it is one of this log's."""
    path = directory / CHECKPOINT_FILE
    if not path.exists():
        return 0
    try:
        body = parse_checkpoint(_note_body(path.read_text(encoding="utf-8")))
    except (NoteError, UnicodeDecodeError) as exc:
        raise ExportRefused(f"{path} 不是检查点文件（{exc}），拒绝写入该目录") from exc
    if body.origin != origin:
        raise ExportRefused(f"{directory} 中是日志“{body.origin}”的瓦片，而本日志为“{origin}”")
    ours = store.size(session)
    if body.size > ours or store.root(session, body.size) != body.root:
        raise ExportRefused(
            f"{directory} 中的检查点（大小 {body.size}）不是本日志（现有 {ours} 条）的前缀："
            "目录可能属于另一份日志，或数据库已被回滚；请核查后换用新目录"
        )
    return body.size


def export_tiles(session: Session, directory: Path, *, again: bool = False) -> Exported:
    """Bring `directory` up to the latest signed checkpoint (`again`: check every file)."""
    latest = store.latest_checkpoint(session)
    if latest is None:
        raise ExportRefused("日志尚无已签名的检查点，没有可导出的瓦片")
    origin = parse_checkpoint(_note_body(latest.note)).origin
    previous = _exported_size(session, directory, origin)
    # Every checkpoint signed since: its partial tiles must exist too (C2SP tlog-tiles).
    start = 0 if again else previous
    sizes = session.scalars(
        select(Checkpoint.size).where(Checkpoint.size > start).order_by(Checkpoint.size)
    )
    written = kept = 0
    old = start
    for size in sizes:
        for tile in tiles_between(old, size) + bundles_between(old, size):
            path = directory / tile_path(tile)
            data = tile_contents(session, tile)
            if path.exists():
                if path.read_bytes() != data:
                    raise ExportRefused(f"{path} 与日志不符：瓦片不可更改，请核查该目录")
                kept += 1
                continue
            write_atomically(path, data)
            written += 1
        old = size
    note = store.published_note(session, latest).encode()
    checkpoint = directory / CHECKPOINT_FILE
    if not checkpoint.exists() or checkpoint.read_bytes() != note:
        write_atomically(checkpoint, note)
    return Exported(latest.size, previous, written, kept)
