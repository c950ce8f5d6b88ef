"""File answers: the attachment header, and a file written whole before it is sent
but never held in memory (spooled to a temporary file, then streamed in chunks)."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from typing import BinaryIO
from urllib.parse import quote

from fastapi.responses import StreamingResponse

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# A file answer, as OpenAPI declares one (generated clients give its bytes).
BINARY = {"schema": {"type": "string", "format": "binary"}}

_UNSAFE_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]+')
# A file's bytes are read and sent this many at a time.
CHUNK_BYTES = 256 * 1024


def attachment(filename: str, fallback: str | None = None) -> dict[str, str]:
    """RFC 6266/5987: an ASCII fallback (`fallback`, or the name's ASCII) and the UTF-8 name."""
    filename = _UNSAFE_IN_FILENAME.sub("_", filename)
    ascii_name = _UNSAFE_IN_FILENAME.sub("_", fallback or "").encode("ascii", "ignore").decode()
    ascii_name = ascii_name or filename.encode("ascii", "ignore").decode() or "export"
    return {
        "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}"
    }


def spooled_file(
    write: Callable[[BinaryIO], None], *, media_type: str, headers: dict[str, str]
) -> StreamingResponse:
    """The file `write` writes, as an answer.

    It is written in full while the request's session is still open (so an error
    is still an error answer, and the rows are read inside the request's
    transaction), into a temporary file rather than memory; then sent in chunks.
    """
    # Closed by the answer's last chunk (or here, on an error): it outlives this call.
    spool = tempfile.TemporaryFile()  # noqa: SIM115
    try:
        write(spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        with spool:
            while chunk := spool.read(CHUNK_BYTES):
                yield chunk

    return StreamingResponse(
        chunks(), media_type=media_type, headers=headers | {"Content-Length": str(size)}
    )
