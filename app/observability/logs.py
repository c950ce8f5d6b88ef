"""Logging: every log record, ours and the libraries', as one JSON object a line."""

from __future__ import annotations

import logging
import sys

import structlog
from structlog.typing import Processor


class _JsonLinesHandler(logging.Handler):
    """Writes each record as one line to the current sys.stdout.

    Looked up at each record, not kept: whoever redirects stdout (a test's
    capture, a supervisor) gets the lines. Stdout, like uvicorn's access log
    it replaces, so that a parent reading only stderr never fills its pipe.
    """

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def configure_logging() -> None:
    """Render every log record, ours and the libraries', as one JSON object a line.

    Idempotent: create_app runs once per test and once per uvicorn worker.
    """
    root = logging.getLogger()
    if any(isinstance(h, _JsonLinesHandler) for h in root.handlers):
        return
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = _JsonLinesHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            # Records of the standard library (log.exception in app.main,
            # uvicorn, SQLAlchemy) get the same fields, the request id included.
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(ensure_ascii=False),
            ],
        )
    )
    root.addHandler(handler)
    # The root stays at WARNING, so libraries stay quiet; our own INFO lines
    # (one per request) pass.
    logging.getLogger("shuangsui").setLevel(logging.INFO)
    # uvicorn configures its loggers before it imports the application: send its
    # lines through the JSON handler too, and drop its access line, which would
    # repeat ours without the request id (uvicorn skips it when it has no handler).
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").handlers.clear()
    logging.getLogger("uvicorn.access").propagate = False
