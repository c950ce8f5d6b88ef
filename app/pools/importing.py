"""Bulk import of the directories from the files bureaus exchange.

All or nothing: every row is validated first (with the same models as the API)
and any problem rejects the whole file, listing each problem with its row,
column, value and a Chinese message. Only a clean file is written, in one
transaction. Rows are upserted by their key (USCC, certificate number); in an
existing record a blank cell keeps the stored value, so a partial file never
erases data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.errors import PayloadTooLarge
from app.history import actor_key_id
from app.pools import schemas, service
from app.pools.archive import ArchiveRefused, archive_limits, check_archive
from app.pools.columns import (
    ENTERPRISE_COLUMNS,
    INSPECTION_COLUMNS,
    INSPECTOR_COLUMNS,
    Column,
    header_test,
)
from app.pools.enterprise_writer import NewEnterprise, create_enterprises
from app.pools.inspection_writer import NewInspection, create_inspections, stored_visits
from app.pools.inspector_writer import NewInspector, create_inspectors
from app.pools.models import Enterprise, ImportBatch, Inspector
from app.pools.rows import (
    ImportReport,
    Layout,
    Problems,
    ValidRow,
    created,
    duplicate_check,
    layout,
    unreadable,
    updated,
    valid_rows,
)
from app.pools.tabular import XLSX_MAGIC, Table, TableError, read_table

__all__ = [
    "CHUNK_ROWS",
    "ENTERPRISE_COLUMNS",
    "IMPORTERS",
    "INSPECTION_COLUMNS",
    "INSPECTOR_COLUMNS",
    "Column",
    "ImportReport",
    "import_enterprises",
    "import_inspections",
    "import_inspectors",
    "start_batch",
]


def _read(
    data: bytes, filename: str, columns: Sequence[Column], report: ImportReport
) -> tuple[Table, Layout, Problems]:
    """The file's table and where each column is; a file without the
    template's required columns is refused here."""
    problems = Problems()
    try:
        if data.startswith(XLSX_MAGIC):
            check_archive(data, archive_limits(get_settings()))
        table = read_table(data, filename, is_header=header_test(columns))
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


def _done(report: ImportReport, batch: ImportBatch | None, session: Session) -> ImportReport:
    report.finish_warnings()
    if batch is not None:
        _finish(batch, report)
        session.flush()
    return report


def start_batch(
    session: Session, *, target: str, filename: str, data: bytes, actor: str
) -> ImportBatch:
    batch = ImportBatch(
        target=target,
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
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


def _finish(batch: ImportBatch, report: ImportReport) -> None:
    batch.rows = report.rows
    batch.created = report.created
    batch.updated = report.updated
    batch.unchanged = report.unchanged
    report.import_id = batch.id


# -- enterprises ---------------------------------------------------------------


def import_enterprises(
    session: Session,
    *,
    data: bytes,
    filename: str,
    actor: str,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Validate a file of enterprises and upsert them all, or reject it whole.

    The file is read and validated a chunk of rows at a time, and each valid
    chunk is written, in the caller's transaction, by a second thread while the
    next chunk is validated; memory stays flat however long the file. After the
    first problem nothing more is written; the rest of the file is still
    checked so that every problem is listed, and the rejection rolls the
    transaction back.
    """
    report = ImportReport(target="enterprises", dry_run=dry_run)
    table, columns, problems = _read(data, filename, ENTERPRISE_COLUMNS, report)
    batch = (
        None
        if dry_run
        else start_batch(session, target="enterprises", filename=filename, data=data, actor=actor)
    )
    directory = _Directory.read(session)
    seen: dict[str, int] = {}
    chunk = _EnterpriseChunk()
    with _ChunkWriter() as writer:

        def write(chunk: _EnterpriseChunk) -> None:
            # A file with a problem is refused whole: writing more of it is wasted work.
            write_to = None if problems.count else batch
            writer.submit(_write_enterprises, session, chunk, report, actor, write_to)

        rows = valid_rows(table, filename, schemas.EnterpriseCreate, columns, problems, report)
        for row in rows:
            code = row.model.uscc
            if not duplicate_check(
                code, row.number, seen, "uscc", "统一社会信用代码", columns, problems
            ):
                continue
            if code in directory.retired:
                problems.add(
                    row=row.number,
                    column=columns.where("uscc"),
                    message=(
                        f"企业 {code} 已注销（{directory.retired[code]}），请先在名录中恢复再导入"
                    ),
                    code="enterprise_retired",
                    value=code,
                )
            elif code in directory.active:
                chunk.updates.append(row)
            else:
                chunk.creates.append(row)
            if len(chunk) == CHUNK_ROWS:
                write(chunk)
                chunk = _EnterpriseChunk()
                if progress is not None:
                    progress(report.rows, max(table.size_hint, report.rows))
        write(chunk)
    problems.raise_if_any(filename)
    if progress is not None:
        progress(report.rows, report.rows)
    return _done(report, batch, session)


# Rows of enterprises validated, then written, at a time.
CHUNK_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class _Directory:
    """The codes already in the directory, read once: a million-row file is
    sorted into creates and updates without a query per row or per chunk."""

    active: set[str]
    retired: dict[str, str | None]  # code -> why it was retired

    @classmethod
    def read(cls, session: Session) -> _Directory:
        active: set[str] = set()
        retired: dict[str, str | None] = {}
        query = select(Enterprise.uscc, Enterprise.retired_at, Enterprise.retired_reason)
        for code, retired_at, reason in session.execute(query):
            if retired_at is None:
                active.add(code)
            else:
                retired[code] = reason
        return cls(active, retired)


@dataclass(slots=True)
class _EnterpriseChunk:
    """Valid rows waiting to be written: new codes, and codes already in the directory."""

    creates: list[ValidRow[schemas.EnterpriseCreate]] = field(default_factory=list)
    updates: list[ValidRow[schemas.EnterpriseCreate]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates)


class _ChunkWriter:
    """Runs each chunk's database work on one other thread while the next
    chunk is read and validated (the database and the driver release the GIL
    while they work, so the two overlap on a second core).

    At most one chunk is in flight, and the reading thread does not touch the
    session until the writer is done with it, so the session is only ever used
    by one thread at a time. An error in the writer is raised in the reading
    thread, at the next chunk or at the end.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._pending: Future[None] | None = None

    def submit(self, work: Callable[..., None], *args: Any) -> None:
        self.wait()
        self._pending = self._pool.submit(work, *args)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> _ChunkWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            self.wait()
        except Exception:
            if kind is None:  # else the reading thread's own error is the one to raise
                raise
        finally:
            self._pool.shutdown()


def _write_enterprises(
    session: Session,
    chunk: _EnterpriseChunk,
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    """Count a chunk's changes and, unless `batch` is None (a dry run, or a
    file already refused), write them."""
    changes = _apply_enterprise_updates(session, chunk.updates, report, actor, batch)
    room = report.room()
    if room > 0:
        changes += [created(report, row, "uscc") for row in chunk.creates[:room]]
        report.note_changes(changes)
    _insert_enterprises(session, chunk.creates, report, actor, batch)


def _apply_enterprise_updates(
    session: Session,
    updates: list[ValidRow[schemas.EnterpriseCreate]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> list[dict[str, Any]]:
    """Count, and unless `batch` is None write, the rows' changes; their entries."""
    if not updates:
        return []
    codes = [row.model.uscc for row in updates]
    stored = {
        e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))
    }
    changes: list[dict[str, Any]] = []
    for row in updates:
        model = row.model
        enterprise = stored[model.uscc]
        given = {f: getattr(model, f) for f in row.values if f != "uscc"}
        if "subtype" in given and "sector" not in given:
            given["sector"] = model.sector
        before = service.enterprise_snapshot(enterprise)
        proposed = dict(before)
        for field_name, value in given.items():
            proposed["county_code" if field_name == "county" else field_name] = value
        changed = sorted(k for k in proposed if proposed[k] != before[k])
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        changes.append(updated(report, row, model.uscc, before, proposed, changed))
        if batch is None:
            continue
        service.update_enterprise(
            session,
            enterprise=enterprise,
            data=schemas.EnterpriseUpdate.model_validate(
                {("county" if k == "county_code" else k): proposed[k] for k in changed}
                | {"subtype": proposed["subtype"], "sector": proposed["sector"]}
            ),
            actor=actor,
            import_id=batch.id,
        )
    return changes


def _insert_enterprises(
    session: Session,
    creates: list[ValidRow[schemas.EnterpriseCreate]],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    report.created += len(creates)
    if batch is None or not creates:
        return
    new = [NewEnterprise.of(row.model) for row in creates]
    create_enterprises(session, new, actor=actor, import_id=batch.id)


# -- inspectors ----------------------------------------------------------------


def import_inspectors(
    session: Session, *, data: bytes, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspectors and upsert them all, or reject it whole."""
    report = ImportReport(target="inspectors", dry_run=dry_run)
    table, columns, problems = _read(data, filename, INSPECTOR_COLUMNS, report)
    existing = {i.cert_no: i for i in session.scalars(select(Inspector))}
    seen: dict[str, int] = {}
    planned: list[ValidRow[schemas.InspectorCreate]] = []
    for row in valid_rows(table, filename, schemas.InspectorCreate, columns, problems, report):
        cert_no = row.model.cert_no
        duplicate_check(cert_no, row.number, seen, "cert_no", "执法证号", columns, problems)
        planned.append(row)
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else start_batch(session, target="inspectors", filename=filename, data=data, actor=actor)
    )
    changes: list[dict[str, Any]] = []
    creates: list[NewInspector] = []
    for row in planned:
        model = row.model
        current = existing.get(model.cert_no)
        if current is None:
            report.created += 1
            changes.append(created(report, row, "cert_no"))
            creates.append(NewInspector.of(model))
            continue
        given = {f: getattr(model, f) for f in row.values if f != "cert_no"}
        before = service.inspector_snapshot(current)
        update = schemas.InspectorUpdate.model_validate(given)
        proposed = dict(before)
        for f, v in update.model_dump(exclude_unset=True, exclude={"version"}).items():
            proposed["county_code" if f == "county" else f] = (
                v.isoformat() if isinstance(v, date) else v
            )
        changed = sorted(k for k in proposed if proposed[k] != before[k])
        if not changed:
            report.unchanged += 1
            continue
        report.updated += 1
        changes.append(updated(report, row, model.cert_no, before, proposed, changed))
        if batch is not None:
            service.update_inspector(
                session, inspector=current, data=update, actor=actor, import_id=batch.id
            )
    if batch is not None:
        create_inspectors(session, creates, actor=actor, import_id=batch.id)
    report.note_changes(changes)
    return _done(report, batch, session)


# -- inspection history ------------------------------------------------------


def import_inspections(
    session: Session, *, data: bytes, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspection records and add them all, or reject it whole."""
    report = ImportReport(target="inspections", dry_run=dry_run)
    table, columns, problems = _read(data, filename, INSPECTION_COLUMNS, report)
    enterprises = {
        uscc: id_ for id_, uscc in session.execute(select(Enterprise.id, Enterprise.uscc))
    }
    seen: dict[str, int] = {}
    planned: list[ValidRow[schemas.InspectionCreate]] = []
    for row in valid_rows(table, filename, schemas.InspectionCreate, columns, problems, report):
        model = row.model
        if model.uscc not in enterprises:
            problems.add(
                row=row.number,
                column=columns.where("uscc"),
                message=f"名录库中没有统一社会信用代码为 {model.uscc} 的企业，请先导入企业",
                code="unknown_enterprise",
                value=model.uscc,
            )
            continue
        visit = f"{model.uscc}/{model.inspected_on}/{model.kind}/{model.source}"
        duplicate_check(visit, row.number, seen, "uscc", "检查记录", columns, problems)
        planned.append(row)
    problems.raise_if_any(filename)

    batch = (
        None
        if dry_run
        else start_batch(session, target="inspections", filename=filename, data=data, actor=actor)
    )
    changes: list[dict[str, Any]] = []
    new = [NewInspection.of(row.model, enterprises[row.model.uscc]) for row in planned]
    stored = stored_visits(session, (n.visit for n in new))
    creates: list[NewInspection] = []
    for row, inspection in zip(planned, new, strict=True):
        if inspection.visit in stored:
            report.unchanged += 1
            continue
        report.created += 1
        changes.append(created(report, row, "uscc"))
        creates.append(inspection)
    if batch is not None:
        create_inspections(session, creates, actor=actor, import_id=batch.id)
    report.note_changes(changes)
    return _done(report, batch, session)


IMPORTERS = {
    "enterprises": (import_enterprises, ENTERPRISE_COLUMNS),
    "inspectors": (import_inspectors, INSPECTOR_COLUMNS),
    "inspections": (import_inspections, INSPECTION_COLUMNS),
}
