"""Bulk import of the directories from the files bureaus exchange.

All or nothing: every row is validated first (with the same models as the API)
and any problem rejects the whole file, listing each problem with its row,
column, value and a Chinese message. Only a clean file is written, in one
transaction. Rows are upserted by their key (USCC, certificate number); in an
existing record a blank cell keeps the stored value, so a partial file never
erases data.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.pools import schemas, service
from app.pools.code_set import CodeSet
from app.pools.columns import (
    ENTERPRISE_COLUMNS,
    INSPECTION_COLUMNS,
    INSPECTOR_COLUMNS,
    Column,
)
from app.pools.enterprise_rows import EnterpriseRow, SeenCodes, enterprise_rows
from app.pools.enterprise_writer import create_enterprises
from app.pools.import_batch import done, read_file, start_batch
from app.pools.import_records import import_inspections, import_inspectors
from app.pools.models import Enterprise, ImportBatch
from app.pools.rows import (
    ImportReport,
    created,
    updated,
)

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


# -- enterprises ---------------------------------------------------------------


def import_enterprises(
    session: Session,
    *,
    file: BinaryIO,
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
    table, columns, problems = read_file(file, filename, ENTERPRISE_COLUMNS, report)
    batch = (
        None
        if dry_run
        else start_batch(session, target="enterprises", filename=filename, file=file, actor=actor)
    )
    directory = _Directory.read(session)
    seen = SeenCodes(columns)
    chunk = _EnterpriseChunk()
    with _ChunkWriter() as writer:

        def write(chunk: _EnterpriseChunk) -> None:
            # A file with a problem is refused whole: writing more of it is wasted work.
            write_to = None if problems.count else batch
            writer.submit(_write_enterprises, session, chunk, report, actor, write_to)

        for row in enterprise_rows(table, filename, columns, problems, report):
            code = row.new.uscc
            if not seen.add(code, row.number, problems):
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
    if seen.unnamed:
        again = ImportReport(target="enterprises", dry_run=True)
        table, columns, problems_again = read_file(file, filename, ENTERPRISE_COLUMNS, again)
        seen.name_first_rows(enterprise_rows(table, filename, columns, problems_again, again))
    problems.raise_if_any(filename)
    if progress is not None:
        progress(report.rows, report.rows)
    return done(report, batch, session)


# Rows of enterprises validated, then written, at a time.
CHUNK_ROWS = 5_000


@dataclass(frozen=True, slots=True)
class _Directory:
    """The codes already in the directory, read once: a million-row file is
    sorted into creates and updates without a query per row or per chunk
    (a million stored codes take about 70 MB, not 110: see CodeSet)."""

    active: CodeSet
    retired: dict[str, str | None]  # code -> why it was retired (few: kept as they are)

    @classmethod
    def read(cls, session: Session) -> _Directory:
        active = CodeSet()
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

    creates: list[EnterpriseRow] = field(default_factory=list)
    updates: list[EnterpriseRow] = field(default_factory=list)

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
        changes += [created(report, row.valid(), "uscc") for row in chunk.creates[:room]]
        report.note_changes(changes)
    _insert_enterprises(session, chunk.creates, report, actor, batch)


def _apply_enterprise_updates(
    session: Session,
    updates: list[EnterpriseRow],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> list[dict[str, Any]]:
    """Count, and unless `batch` is None write, the rows' changes; their entries."""
    if not updates:
        return []
    codes = [row.new.uscc for row in updates]
    stored = {
        e.uscc: e for e in session.scalars(select(Enterprise).where(Enterprise.uscc.in_(codes)))
    }
    changes: list[dict[str, Any]] = []
    for row in (each.valid() for each in updates):
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
    creates: list[EnterpriseRow],
    report: ImportReport,
    actor: str,
    batch: ImportBatch | None,
) -> None:
    report.created += len(creates)
    if batch is None or not creates:
        return
    create_enterprises(session, [row.new for row in creates], actor=actor, import_id=batch.id)


IMPORTERS = {
    "enterprises": (import_enterprises, ENTERPRISE_COLUMNS),
    "inspectors": (import_inspectors, INSPECTOR_COLUMNS),
    "inspections": (import_inspections, INSPECTION_COLUMNS),
}
