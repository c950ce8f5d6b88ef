"""The directories' business figures for /metrics: accepted imports and their rows,
enterprises and inspectors on the directories."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.pools.importing import TARGETS
from app.pools.models import Enterprise, ImportBatch, Inspector

# What an import did with a row, in ImportBatch's column order.
_IMPORT_OUTCOMES = ("created", "updated", "unchanged")


def directory_figures(session: Session) -> Iterator[Metric]:
    """Imports by target (every target, even at zero) with their rows by outcome, and the
    records on each directory, retired ones excluded."""
    totals = {target: (0, 0, 0, 0) for target in TARGETS}
    for target, batches, created, updated, unchanged in session.execute(
        select(
            ImportBatch.target,
            func.count(),
            func.coalesce(func.sum(ImportBatch.created), 0),
            func.coalesce(func.sum(ImportBatch.updated), 0),
            func.coalesce(func.sum(ImportBatch.unchanged), 0),
        ).group_by(ImportBatch.target)
    ):
        totals[target] = (batches, created, updated, unchanged)
    imports = CounterMetricFamily(
        "shuangsui_imports", "Accepted directory imports (batches), by entity.", labels=["entity"]
    )
    rows = CounterMetricFamily(
        "shuangsui_import_rows",
        "Rows of accepted directory imports, by entity and what the import did with them.",
        labels=["entity", "outcome"],
    )
    for entity, (batches, *outcomes) in sorted(totals.items()):
        imports.add_metric([entity], batches)
        for outcome, count in zip(_IMPORT_OUTCOMES, outcomes, strict=True):
            rows.add_metric([entity, outcome], count)
    yield imports
    yield rows
    yield GaugeMetricFamily(
        "shuangsui_enterprises",
        "Enterprises in the inspection directory, retired ones excluded.",
        value=_active(session, Enterprise),
    )
    yield GaugeMetricFamily(
        "shuangsui_inspectors",
        "Inspectors in the inspector directory, retired ones excluded.",
        value=_active(session, Inspector),
    )


def _active(session: Session, model: type[Enterprise] | type[Inspector]) -> int:
    query = select(func.count()).select_from(model).where(model.retired_at.is_(None))
    return int(session.scalar(query) or 0)
