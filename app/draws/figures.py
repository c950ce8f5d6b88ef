"""The draws' business figures for /metrics: draws by status, and the log's size."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.draws.models import Draw
from app.draws.status import DrawStatus
from app.ledger import store


def draw_figures(session: Session) -> Iterator[Metric]:
    """Draws by status (every status, even at zero, so dashboards see a series from the
    start) and the entries in the public log, which the ceremonies write."""
    counts = dict.fromkeys((str(s) for s in DrawStatus), 0)
    for status, count in session.execute(select(Draw.status, func.count()).group_by(Draw.status)):
        counts[status] = count
    draws = GaugeMetricFamily(
        "shuangsui_draws", "Draws in the database, by status.", labels=["status"]
    )
    for status, count in sorted(counts.items()):
        draws.add_metric([status], count)
    yield draws
    yield GaugeMetricFamily(
        "shuangsui_log_entries", "Entries in the public log (its size).", value=store.size(session)
    )
