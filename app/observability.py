"""Operations: JSON logs with request ids, Prometheus metrics, liveness and readiness.

`install_observability(app)` configures logging, adds the request middleware
and the routes /metrics, /healthz and /readyz.

Every request gets an id: the client's `X-Request-ID` if it is a sane token,
else a new one. It is bound in structlog's context variables for the request,
so every log line written while serving it carries it (the unexpected-error
log of app.main included), and it is echoed in the `X-Request-ID` response
header, error answers included.

Metrics: the HTTP counters live in this process (prometheus_client's default
registry). Under several worker processes, set PROMETHEUS_MULTIPROC_DIR to an
empty directory writable by every worker, emptied at each start of the
service (prometheus_client's multiprocess mode): each process then writes its
counts there and /metrics, whichever worker answers, reports the sum of all.
The business figures (draws, imports, log size, directories) are read from
the database at each scrape, so they are right whatever the number of workers.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable
from functools import lru_cache
from typing import Literal

import structlog
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import Processor

from app.access.policy import PUBLIC, allow
from app.draws.models import Draw
from app.errors import PROBLEM_JSON, Forbidden, Problem, ProblemItem, problem_response
from app.ledger import guard, store
from app.migrate import alembic_config
from app.pools.importing import IMPORTERS
from app.pools.models import Enterprise, ImportBatch, Inspector
from app.routing import TransactionalRoute

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it cannot break a log line or a header.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

log = structlog.stdlib.get_logger("shuangsui.observability")
_request_log = structlog.stdlib.get_logger("shuangsui.http")

# ---------------------------------------------------------------------------
# Logging


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


# ---------------------------------------------------------------------------
# Request ids, the request log line and the HTTP metrics

HTTP_REQUESTS = Counter(
    "shuangsui_http_requests_total",
    "HTTP requests answered, by method, route template and status.",
    ("method", "route", "status"),
)
HTTP_DURATION = Histogram(
    "shuangsui_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ("method", "route"),
    # Up to minutes: importing a large directory file takes that long.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)

# Label values are bounded: any other method counts as "other", any path that
# matches no route as "unmatched".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate: str = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def _route_template(scope: Scope) -> str:
    # The router stores the matched route in the scope (FastAPI and Starlette).
    template = getattr(scope.get("route"), "path", None)
    return template if isinstance(template, str) else UNMATCHED


class RequestObservabilityMiddleware:
    """Request id, one JSON log line and the HTTP metrics for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        # Stays 500 if no response starts: an exception escaped every handler.
        status = 500
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _METHODS else "other"
            route = _route_template(scope)
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_DURATION.labels(method, route).observe(elapsed)
            client = scope.get("client")
            _request_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                client_ip=client[0] if client else None,
            )
            structlog.contextvars.reset_contextvars(**tokens)


# ---------------------------------------------------------------------------
# Business figures, read from the database at each scrape

# Statuses and import targets are reported even at zero, so that dashboards
# and alerts see a series from the start.
_DRAW_STATUSES = ("frozen", "done", "failed", "annulled")
_IMPORT_OUTCOMES = ("created", "updated", "unchanged")


class _Fixed:
    """Metric families computed before the scrape, as a collector."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


class DatabaseFigures:
    """The business figures of one scrape, as Prometheus metric families."""

    def __init__(self, session: Session) -> None:
        self.draws = dict.fromkeys(_DRAW_STATUSES, 0)
        for draw_status, count in session.execute(
            select(Draw.status, func.count()).group_by(Draw.status)
        ):
            self.draws[draw_status] = count
        self.imports = {target: (0, 0, 0, 0) for target in IMPORTERS}
        for target, batches, created, updated, unchanged in session.execute(
            select(
                ImportBatch.target,
                func.count(),
                func.coalesce(func.sum(ImportBatch.created), 0),
                func.coalesce(func.sum(ImportBatch.updated), 0),
                func.coalesce(func.sum(ImportBatch.unchanged), 0),
            ).group_by(ImportBatch.target)
        ):
            self.imports[target] = (batches, created, updated, unchanged)
        self.log_entries = store.size(session)
        self.enterprises = int(
            session.scalar(
                select(func.count()).select_from(Enterprise).where(Enterprise.retired_at.is_(None))
            )
            or 0
        )
        self.inspectors = int(
            session.scalar(
                select(func.count()).select_from(Inspector).where(Inspector.retired_at.is_(None))
            )
            or 0
        )

    def collect(self) -> Iterable[Metric]:
        draws = GaugeMetricFamily(
            "shuangsui_draws", "Draws in the database, by status.", labels=["status"]
        )
        for draw_status, count in sorted(self.draws.items()):
            draws.add_metric([draw_status], count)
        yield draws
        imports = CounterMetricFamily(
            "shuangsui_imports",
            "Accepted directory imports (batches), by entity.",
            labels=["entity"],
        )
        rows = CounterMetricFamily(
            "shuangsui_import_rows",
            "Rows of accepted directory imports, by entity and what the import did with them.",
            labels=["entity", "outcome"],
        )
        for entity, (batches, *outcomes) in sorted(self.imports.items()):
            imports.add_metric([entity], batches)
            for outcome, count in zip(_IMPORT_OUTCOMES, outcomes, strict=True):
                rows.add_metric([entity, outcome], count)
        yield imports
        yield rows
        yield GaugeMetricFamily(
            "shuangsui_log_entries", "Entries in the public log (its size).", value=self.log_entries
        )
        yield GaugeMetricFamily(
            "shuangsui_enterprises",
            "Enterprises in the inspection directory, retired ones excluded.",
            value=self.enterprises,
        )
        yield GaugeMetricFamily(
            "shuangsui_inspectors",
            "Inspectors in the inspector directory, retired ones excluded.",
            value=self.inspectors,
        )


# ---------------------------------------------------------------------------
# Readiness


@lru_cache(maxsize=4)
def _migration_heads(url: str) -> frozenset[str]:
    # The migration scripts do not change while the service runs: read them once.
    return frozenset(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def _readiness_problems(request: Request) -> list[ProblemItem]:
    state = request.app.state
    problems = []
    if getattr(state, "signer", None) is None:
        problems.append(
            ProblemItem(
                loc=["signer"], code="signing_key_missing", message="公开日志签名密钥未载入"
            )
        )
    factory: sessionmaker[Session] | None = getattr(state, "sessionmaker", None)
    if factory is None:
        problems.append(
            ProblemItem(loc=["database"], code="database_unavailable", message="数据库连接尚未建立")
        )
        return problems
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
            current = frozenset(
                MigrationContext.configure(session.connection()).get_current_heads()
            )
            refused = (
                guard.problem(session, state.signer)
                if getattr(state, "signer", None) is not None
                else None
            )
    except SQLAlchemyError as exc:
        # The error may name hosts and users: it goes to the log, not to the public.
        log.warning("readiness: the database does not answer", error=str(exc))
        problems.append(
            ProblemItem(loc=["database"], code="database_unavailable", message="数据库无法连接")
        )
        return problems
    if refused is not None:
        # A rolled-back or forked log, a foreign checkpoint file, a witness's alarm.
        problems.append(ProblemItem(loc=["log"], code=refused.code, message=refused.detail))
    heads = _migration_heads(state.settings.resolved_database_url)
    if current != heads:
        problems.append(
            ProblemItem(
                loc=["database", "revision"],
                code="schema_not_at_head",
                message=(
                    f"数据库结构版本为 {'、'.join(sorted(current)) or '（无）'}，"
                    f"应为 {'、'.join(sorted(heads))}；请运行 shuangsui migrate"
                ),
            )
        )
    return problems


# ---------------------------------------------------------------------------
# Routes


def may_scrape(request: Request) -> bool:
    """A configured scraper: an address in the list, or the bearer of the metrics key."""
    settings = request.app.state.settings
    if settings.metrics_key:
        offered = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(offered.encode(), settings.metrics_key.encode()):
            return True
    host = request.client.host if request.client else ""
    for allowed in filter(None, (a.strip() for a in settings.metrics_scrapers.split(","))):
        try:
            if ipaddress.ip_address(host) in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:  # a name, not an address (the test client's "testclient")
            if host == allowed:
                return True
    return False


class Status(BaseModel):
    """The service is alive, or ready."""

    status: Literal["ok"] = Field(default="ok", description="ok")


router = APIRouter(route_class=TransactionalRoute, tags=["ops"])


@router.get(
    "/healthz",
    dependencies=[allow(PUBLIC)],
    summary="存活检查",
    description="进程在运行即返回 200，不访问数据库。",
    response_model=Status,
    responses={200: {"description": "进程在运行"}},
)
async def healthz() -> Status:
    return Status()


@router.get(
    "/readyz",
    dependencies=[allow(PUBLIC)],
    summary="就绪检查",
    description=(
        "数据库可连接、数据库结构为最新版本、公开日志签名密钥已载入、"
        "数据库中的日志与数据目录保存的最新签名检查点一致（未被回滚或分叉，且无回滚警报）时返回 200；"
        "否则返回 503，`errors` 逐项列出未就绪的原因（如 log_rolled_back、log_forked）。"
    ),
    response_model=Status,
    responses={
        200: {"description": "可以接收请求"},
        503: {
            "model": Problem,
            "content": {PROBLEM_JSON: {}},
            "description": "尚未就绪：数据库不可用、结构不是最新版本或签名密钥未载入",
        },
    },
)
def readyz(request: Request) -> Response:
    problems = _readiness_problems(request)
    if not problems:
        return JSONResponse(Status().model_dump())
    log.warning("readiness: not ready", problems=[p.code for p in problems])
    problem = Problem(
        type="urn:shuangsui:error:not_ready",
        status=503,
        code="not_ready",
        title="服务尚未就绪",
        detail="；".join(p.message for p in problems),
        errors=problems,
    )
    return problem_response(problem)


@router.get(
    "/metrics",
    dependencies=[allow(PUBLIC)],
    summary="Prometheus 指标",
    description=(
        "HTTP 请求计数与耗时（按路由模板），以及从数据库读取的业务数字："
        "各状态抽查数、导入批次与行数、公开日志条目数、名录中的企业与检查人员数。"
    ),
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus 文本格式（按 Accept 也可为 OpenMetrics）",
            "content": {"text/plain": {}},
        }
    },
)
def metrics(request: Request) -> Response:
    if not may_scrape(request):
        raise Forbidden(
            "只有配置的监控地址（SHUANGSUI_METRICS_SCRAPERS）或持有监控令牌"
            "（SHUANGSUI_METRICS_KEY，Authorization: Bearer）者可以读取指标",
            code="metrics_not_allowed",
        )
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(REGISTRY)
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    up = GaugeMetricFamily("shuangsui_database_up", "1 if this scrape could read the database.")
    try:
        with factory() as session:
            registry.register(DatabaseFigures(session))
        up.add_metric([], 1)
    except SQLAlchemyError:
        # The request figures are still worth a scrape when the database is down.
        log.warning("metrics: database unavailable", exc_info=True)
        up.add_metric([], 0)
    registry.register(_Fixed([up]))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})


# ---------------------------------------------------------------------------


def install_observability(app: FastAPI) -> None:
    """Configure logging, add the request middleware and the ops routes to the app."""
    configure_logging()
    app.include_router(router)
    build_stack = app.build_middleware_stack

    def build_stack_with_request_ids() -> ASGIApp:
        return RequestObservabilityMiddleware(build_stack())

    # Outermost, around Starlette's ServerErrorMiddleware, which app.add_middleware
    # cannot wrap: so the 500 answer to an unexpected error also carries the
    # request id, is counted and logged with its status, and the error's log
    # line has the request id.
    app.build_middleware_stack = build_stack_with_request_ids  # type: ignore[method-assign]
