"""Importing the inspector directory and inspection records: every row
validated first, then the new records created in one batch by their writers
(with their history), the changed ones updated one by one; all or nothing.
(Enterprises, which come by the million, stream: app.pools.importing.)"""

from __future__ import annotations

from datetime import date
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.pools import schemas, service
from app.pools.columns import INSPECTION_COLUMNS, INSPECTOR_COLUMNS
from app.pools.import_batch import done, read_file, start_batch
from app.pools.inspection_writer import NewInspection, create_inspections, stored_visits
from app.pools.inspector_writer import NewInspector, create_inspectors
from app.pools.models import Enterprise, Inspector
from app.pools.rows import ImportReport, ValidRow, created, duplicate_check, updated, valid_rows


def import_inspectors(
    session: Session, *, file: BinaryIO, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspectors and upsert them all, or reject it whole."""
    report = ImportReport(target="inspectors", dry_run=dry_run)
    table, columns, problems = read_file(file, filename, INSPECTOR_COLUMNS, report)
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
        else start_batch(session, target="inspectors", filename=filename, file=file, actor=actor)
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
    return done(report, batch, session)


# -- inspection history ------------------------------------------------------


def import_inspections(
    session: Session, *, file: BinaryIO, filename: str, actor: str, dry_run: bool = False
) -> ImportReport:
    """Validate a file of inspection records and add them all, or reject it whole."""
    report = ImportReport(target="inspections", dry_run=dry_run)
    table, columns, problems = read_file(file, filename, INSPECTION_COLUMNS, report)
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
        else start_batch(session, target="inspections", filename=filename, file=file, actor=actor)
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
    return done(report, batch, session)
