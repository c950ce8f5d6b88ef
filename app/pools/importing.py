"""Bulk import of the directories from the files bureaus exchange.

All or nothing: every row is validated first (with the same models as the API)
and any problem rejects the whole file, listing each problem with its row,
column, value and a Chinese message. Only a clean file is written, in one
transaction. Rows are upserted by their key (USCC, certificate number); in an
existing record a blank cell keeps the stored value, so a partial file never
erases data.

Each directory is one ImportTarget (enterprises here, inspectors and
inspection records in app.pools.import_records), run by the one chunked
pipeline of app.pools.import_pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
from app.pools.enterprise_rows import EnterpriseRow, enterprise_rows
from app.pools.enterprise_writer import create_enterprises
from app.pools.import_batch import start_batch
from app.pools.import_pipeline import ImportTarget, SeenKeys, run_import
from app.pools.import_records import INSPECTIONS, INSPECTORS
from app.pools.models import Enterprise, ImportBatch
from app.pools.rows import ImportReport, Layout, Problems, count_update, created

__all__ = [
    "ENTERPRISES",
    "ENTERPRISE_COLUMNS",
    "INSPECTION_COLUMNS",
    "INSPECTOR_COLUMNS",
    "TARGETS",
    "Column",
    "ImportReport",
    "ImportTarget",
    "run_import",
    "start_batch",
]


# -- enterprises ---------------------------------------------------------------


class _EnterpriseSorter:
    """An import of enterprises: the directory's codes, read once, sort the
    file's rows into creates and updates; a retired code is refused."""

    def __init__(self, session: Session, layout: Layout) -> None:
        self.directory = _Directory.read(session)
        self.seen = SeenKeys(layout, "uscc", "统一社会信用代码")
        self.column = layout.where("uscc")
        self.chunk = _EnterpriseChunk()

    def sort(self, row: EnterpriseRow, problems: Problems) -> None:
        code = row.new.uscc
        if not self.seen.add(code, row.number, problems):
            return
        if code in self.directory.retired:
            problems.add(
                row=row.number,
                column=self.column,
                message=(
                    f"企业 {code} 已注销（{self.directory.retired[code]}），请先在名录中恢复再导入"
                ),
                code="enterprise_retired",
                value=code,
            )
        elif code in self.directory.active:
            self.chunk.updates.append(row)
        else:
            self.chunk.creates.append(row)

    def pending(self) -> int:
        return len(self.chunk.creates) + len(self.chunk.updates)

    def take(self) -> _EnterpriseChunk:
        chunk, self.chunk = self.chunk, _EnterpriseChunk()
        return chunk

    def write(
        self,
        session: Session,
        chunk: _EnterpriseChunk,
        report: ImportReport,
        actor: str,
        batch: ImportBatch | None,
    ) -> None:
        changes = _apply_enterprise_updates(session, chunk.updates, report, actor, batch)
        room = report.room()
        if room > 0:
            changes += [created(report, row.valid(), "uscc") for row in chunk.creates[:room]]
            report.note_changes(changes)
        _insert_enterprises(session, chunk.creates, report, actor, batch)


@dataclass(frozen=True, slots=True)
class _Directory:
    """The codes already in the directory, read once: a million-row file is
    sorted into creates and updates without a query per row or per chunk
    (a million stored codes take about 60 MB, not 100 as strings: see CodeSet)."""

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
            proposed[field_name] = value
        changed = count_update(report, row, model.uscc, before, proposed, changes)
        if not changed or batch is None:
            continue
        service.update_enterprise(
            session,
            enterprise=enterprise,
            data=schemas.EnterpriseUpdate.model_validate(
                {k: proposed[k] for k in changed}
                | {"subtype": proposed["subtype"], "sector": proposed["sector"]},
                by_name=True,
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


ENTERPRISES = ImportTarget(
    name="enterprises",
    columns=ENTERPRISE_COLUMNS,
    rows=enterprise_rows,
    key=lambda row: row.new.uscc,
    sorter=_EnterpriseSorter,
)
TARGETS: dict[str, ImportTarget[Any, Any]] = {
    "enterprises": ENTERPRISES,
    "inspectors": INSPECTORS,
    "inspections": INSPECTIONS,
}
