"""What every import shares: reading the file into a table and its layout
(refusing a file without the template's columns), and the import batch, the
record of one accepted file (its name, SHA-256, who imported it, what it
changed) that each imported row's history points to."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import BinaryIO

from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import PayloadTooLarge
from app.history import actor_key_id
from app.pools.archive import ArchiveRefused, archive_limits, check_archive
from app.pools.columns import Column, header_test
from app.pools.file_text import pieces
from app.pools.models import ImportBatch
from app.pools.rows import ImportReport, Layout, Problems, layout, unreadable
from app.pools.tabular import XLSX_MAGIC, Table, TableError, read_table


def read_file(
    file: BinaryIO, filename: str, columns: Sequence[Column], report: ImportReport
) -> tuple[Table, Layout, Problems]:
    """The file's table and where each column is; a file without the
    template's required columns is refused here. The table's rows are read
    from `file` as they are iterated."""
    problems = Problems()
    try:
        file.seek(0)
        if file.read(len(XLSX_MAGIC)) == XLSX_MAGIC:
            check_archive(file, archive_limits(get_settings()))
        table = read_table(file, filename, is_header=header_test(columns))
    except ArchiveRefused as exc:
        if exc.too_large:
            raise _archive_too_large(filename, exc) from exc
        raise unreadable(filename, exc) from exc
    except TableError as exc:
        raise unreadable(filename, exc) from exc
    where = layout(table, columns, report, problems)
    problems.raise_if_any(filename)
    return table, where, problems


def _archive_too_large(filename: str, exc: ArchiveRefused) -> PayloadTooLarge:
    message = f"无法导入文件“{filename}”：{exc.message}"
    if exc.code == "archive_member_too_large":
        return PayloadTooLarge(message, code="archive_member_too_large")
    return PayloadTooLarge(message, code="archive_too_large")


def done(report: ImportReport, batch: ImportBatch | None, session: Session) -> ImportReport:
    report.finish_warnings()
    if batch is not None:
        finish(batch, report)
        session.flush()
    return report


def start_batch(
    session: Session, *, target: str, filename: str, file: BinaryIO, actor: str
) -> ImportBatch:
    digest = hashlib.sha256()
    for piece in pieces(file):
        digest.update(piece)
    batch = ImportBatch(
        target=target,
        filename=filename[:255],
        sha256=digest.hexdigest(),
        actor=actor,
        actor_key_id=actor_key_id(actor),
        rows=0,
        created=0,
        updated=0,
        unchanged=0,
    )
    session.add(batch)
    session.flush()
    return batch


def finish(batch: ImportBatch, report: ImportReport) -> None:
    batch.rows = report.rows
    batch.created = report.created
    batch.updated = report.updated
    batch.unchanged = report.unchanged
    report.import_id = batch.id
