"""The import targets of the inspector directory and of inspection records,
run by the chunked pipeline (app.pools.import_pipeline) as enterprises are:
every row validated with the API's model, the new records created a chunk at
a time by their writers (with their history), the changed ones updated one by
one; all or nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.pools import schemas, service
from app.pools.changes import column_name
from app.pools.columns import INSPECTION_COLUMNS, INSPECTOR_COLUMNS
from app.pools.import_pipeline import ImportTarget, SeenKeys, Waiting
from app.pools.inspection_writer import NewInspection, create_inspections, stored_visits
from app.pools.inspector_writer import NewInspector, create_inspectors
from app.pools.models import Enterprise, ImportBatch, Inspector
from app.pools.rows import (
    ImportReport,
    Layout,
    Problems,
    ValidRow,
    count_update,
    created,
    valid_rows,
)
from app.pools.tabular import Table

_Inspector = ValidRow[schemas.InspectorCreate]
_Inspection = ValidRow[schemas.InspectionCreate]


# -- inspectors ----------------------------------------------------------------


def _inspector_rows(
    table: Table, filename: str, layout: Layout, problems: Problems, report: ImportReport
) -> Iterator[_Inspector]:
    return valid_rows(table, filename, schemas.InspectorCreate, layout, problems, report)


class _InspectorSorter(Waiting[_Inspector]):
    """An import of inspectors: upserted by certificate number."""

    def __init__(self, session: Session, layout: Layout) -> None:
        super().__init__()
        self.stored = set(session.scalars(select(Inspector.cert_no)))
        self.seen = SeenKeys(layout, "cert_no", "执法证号")

    def sort(self, row: _Inspector, problems: Problems) -> None:
        if self.seen.add(row.model.cert_no, row.number, problems):
            self.rows.append(row)

    def write(
        self,
        session: Session,
        chunk: list[_Inspector],
        report: ImportReport,
        actor: str,
        batch: ImportBatch | None,
    ) -> None:
        codes = [row.model.cert_no for row in chunk if row.model.cert_no in self.stored]
        existing = {
            i.cert_no: i
            for i in session.scalars(select(Inspector).where(Inspector.cert_no.in_(codes)))
        }
        changes: list[dict[str, Any]] = []
        creates: list[NewInspector] = []
        for row in chunk:
            model = row.model
            current = existing.get(model.cert_no)
            if current is None:
                report.created += 1
                changes.append(created(report, row, "cert_no"))
                creates.append(NewInspector.of(model))
                continue
            given = {f: getattr(model, f) for f in row.values if f != "cert_no"}
            before = service.inspector_snapshot(current)
            update = schemas.InspectorUpdate.model_validate(given, by_name=True)
            proposed = dict(before)
            for f, v in update.model_dump(exclude_unset=True, exclude={"version"}).items():
                proposed[column_name(Inspector, f)] = v.isoformat() if isinstance(v, date) else v
            changed = count_update(report, row, model.cert_no, before, proposed, changes)
            if changed and batch is not None:
                service.update_inspector(
                    session, inspector=current, data=update, actor=actor, import_id=batch.id
                )
        if batch is not None:
            create_inspectors(session, creates, actor=actor, import_id=batch.id)
        report.note_changes(changes)


INSPECTORS = ImportTarget(
    name="inspectors",
    columns=INSPECTOR_COLUMNS,
    rows=_inspector_rows,
    key=lambda row: row.model.cert_no,
    sorter=_InspectorSorter,
)


# -- inspection history ------------------------------------------------------


def _inspection_rows(
    table: Table, filename: str, layout: Layout, problems: Problems, report: ImportReport
) -> Iterator[_Inspection]:
    return valid_rows(table, filename, schemas.InspectionCreate, layout, problems, report)


def _visit(row: _Inspection) -> str:
    """What makes two rows the same visit: one enterprise, day, kind and source."""
    model = row.model
    return f"{model.uscc}/{model.inspected_on}/{model.kind}/{model.source}"


class _InspectionSorter(Waiting[_Inspection]):
    """An import of inspection records: each of a known enterprise; a visit
    already on record is left as it is."""

    def __init__(self, session: Session, layout: Layout) -> None:
        super().__init__()
        self.enterprises = {
            uscc: id_ for id_, uscc in session.execute(select(Enterprise.id, Enterprise.uscc))
        }
        self.seen = SeenKeys(layout, "uscc", "检查记录")
        self.column = layout.where("uscc")

    def sort(self, row: _Inspection, problems: Problems) -> None:
        code = row.model.uscc
        if code not in self.enterprises:
            problems.add(
                row=row.number,
                column=self.column,
                message=f"名录库中没有统一社会信用代码为 {code} 的企业，请先导入企业",
                code="unknown_enterprise",
                value=code,
            )
        elif self.seen.add(_visit(row), row.number, problems):
            self.rows.append(row)

    def write(
        self,
        session: Session,
        chunk: list[_Inspection],
        report: ImportReport,
        actor: str,
        batch: ImportBatch | None,
    ) -> None:
        new = [NewInspection.of(row.model, self.enterprises[row.model.uscc]) for row in chunk]
        stored = stored_visits(session, (n.visit for n in new))
        changes: list[dict[str, Any]] = []
        creates: list[NewInspection] = []
        for row, inspection in zip(chunk, new, strict=True):
            if inspection.visit in stored:
                report.unchanged += 1
                continue
            report.created += 1
            changes.append(created(report, row, "uscc"))
            creates.append(inspection)
        if batch is not None:
            create_inspections(session, creates, actor=actor, import_id=batch.id)
        report.note_changes(changes)


INSPECTIONS = ImportTarget(
    name="inspections",
    columns=INSPECTION_COLUMNS,
    rows=_inspection_rows,
    key=_visit,
    sorter=_InspectionSorter,
)
