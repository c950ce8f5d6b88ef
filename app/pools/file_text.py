"""An uploaded file read a piece at a time: its bytes, whether they are text
in an encoding, and its text decoded as it is read (a million-row file is
never held whole, as bytes or as one string)."""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import Any, BinaryIO, TextIO


class TableError(ValueError):
    """A file that cannot be read as a table, with a stable `code` and a Chinese `message`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Bytes read at a time: a file is checked and hashed without its whole content.
PIECE_BYTES = 1 << 20


def pieces(file: BinaryIO, start: int = 0) -> Iterator[bytes]:
    """`file`'s bytes from `start` to its end, a piece at a time."""
    file.seek(start)
    while piece := file.read(PIECE_BYTES):
        yield piece


def _decodes(file: BinaryIO, encoding: str, start: int = 0) -> bool:
    """Whether all of `file` from `start` is text in `encoding`."""
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        for piece in pieces(file, start):
            decoder.decode(piece)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def open_text(file: BinaryIO) -> tuple[TextIO, str]:
    """The file's text, decoded as it is read (a million-row file is never held
    as one string), and its encoding: UTF-8 (with or without BOM), else GB18030."""
    if file.read(3) == b"\xef\xbb\xbf":
        encoding = "utf-8-sig"  # which also takes the BOM off
        if not _decodes(file, "utf-8", start=3):
            raise TableError(
                "bad_encoding", "文件以 UTF-8 标记开头，但内容不是 UTF-8：请重新另存为 UTF-8"
            )
    elif _decodes(file, "utf-8"):
        encoding = "utf-8"
    elif _decodes(file, "gb18030"):
        # A NUL byte is NUL in GB18030 (no character has one inside).
        if any(b"\x00" in piece for piece in pieces(file)):
            raise TableError("unreadable_file", "文件不是表格文本：请上传 CSV、XLSX 或 XLS 文件")
        encoding = "gb18030"
    else:
        raise TableError(
            "bad_encoding", "无法识别文件编码：请另存为 UTF-8 或 GB18030（GBK）编码的 CSV，或 XLSX"
        )
    file.seek(0)
    reader = io.BufferedReader(_Borrowed(file), buffer_size=1 << 16)
    return io.TextIOWrapper(reader, encoding, newline=""), encoding


class _Borrowed(io.RawIOBase):
    """The caller's file, read by a text wrapper from where this reading got
    to, whatever else reads the file meanwhile (the importer hashes it while
    its rows are read), and never closed by the wrapper (which closes its file
    when it is dropped; the file's owner closes it)."""

    def __init__(self, file: BinaryIO) -> None:
        super().__init__()
        self._file = file
        self._position = file.tell()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self._file.seek(self._position)
        data = self._file.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)
