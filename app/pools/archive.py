"""An XLSX file's zip directory checked before a spreadsheet parser opens it.

An XLSX is a zip archive, and a parser inflates its members in memory: a 1 MB
upload whose one shared string inflates to 1 GiB would cost gigabytes and
seconds. So the archive's directory is read first (no member is inflated for
that) and refused if it declares too many members, members or a total too large
to parse, or a member inflating by more than `max_ratio` (no spreadsheet's XML
does; zip bombs do). Then every member is inflated once as a stream, bounded by
its declared size, so that a directory that lies about sizes is caught before
the parser trusts it (zipfile stops at the declared size and checks the CRC).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from typing import BinaryIO

from app.config import Settings
from app.pools.tabular import TableError

MB = 1024 * 1024
# Members smaller than this may compress by any ratio (styles, empty sheets).
_RATIO_FLOOR = 1 * MB
_STREAM_CHUNK = 1 * MB


@dataclass(frozen=True)
class ArchiveLimits:
    """What an uploaded XLSX may inflate to."""

    max_member_bytes: int = 768 * MB
    max_total_bytes: int = 1536 * MB
    max_ratio: int = 100
    max_members: int = 1000


def archive_limits(settings: Settings) -> ArchiveLimits:
    """The limits an operator configured."""
    return ArchiveLimits(
        max_member_bytes=settings.xlsx_max_member_bytes,
        max_total_bytes=settings.xlsx_max_inflated_bytes,
        max_ratio=settings.xlsx_max_ratio,
    )


class ArchiveRefused(TableError):
    """An archive over the limits: `too_large` for 413, else a suspicious archive (422)."""

    def __init__(self, code: str, message: str, *, too_large: bool) -> None:
        super().__init__(code, message)
        self.too_large = too_large


def check_archive(file: BinaryIO, limits: ArchiveLimits) -> None:
    """Refuse an archive whose members would inflate past `limits` (or lie about it)."""
    try:
        archive = zipfile.ZipFile(file)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise TableError("unreadable_file", f"表格文件已损坏（不是完整的 XLSX）：{exc}") from exc
    with archive:
        members = archive.infolist()
        _check_directory(members, limits)
        for member in members:
            _inflate_within_declared_size(archive, member)


def _check_directory(members: list[zipfile.ZipInfo], limits: ArchiveLimits) -> None:
    if len(members) > limits.max_members:
        raise ArchiveRefused(
            "archive_too_many_members",
            f"表格文件内含 {len(members)} 个部件，超过 {limits.max_members} 个的上限",
            too_large=False,
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_total_bytes:
        raise ArchiveRefused(
            "archive_too_large",
            f"表格文件解压后共 {_size(total)}，超过 {_size(limits.max_total_bytes)} 的上限",
            too_large=True,
        )
    for member in members:
        name = member.filename[:100]
        if member.file_size > limits.max_member_bytes:
            raise ArchiveRefused(
                "archive_member_too_large",
                f"表格文件中的 {name} 解压后 {_size(member.file_size)}，"
                f"超过 {_size(limits.max_member_bytes)} 的上限",
                too_large=True,
            )
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and ratio > limits.max_ratio:
            raise ArchiveRefused(
                "archive_ratio",
                f"表格文件中的 {name} 压缩比为 {ratio:.0f} 倍，超过 {limits.max_ratio} 倍的上限："
                "这不是正常的电子表格",
                too_large=False,
            )


def _inflate_within_declared_size(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> None:
    try:
        with archive.open(member) as stream:
            while stream.read(_STREAM_CHUNK):
                pass
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError) as exc:
        # Also a member that inflates past its declared size: its CRC cannot match.
        raise ArchiveRefused(
            "archive_corrupt",
            f"表格文件中的 {member.filename[:100]} 已损坏或与目录不符：{exc}",
            too_large=False,
        ) from exc
    except RuntimeError as exc:  # an encrypted member
        raise ArchiveRefused(
            "archive_encrypted", f"表格文件中的 {member.filename[:100]} 已加密", too_large=False
        ) from exc


def _size(count: int) -> str:
    return f"{count} 字节" if count < MB else f"{count / MB:.0f} MB"
