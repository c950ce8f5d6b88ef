"""The operations routes: /healthz, /readyz and /metrics.

Metrics: the HTTP counters live in this process (prometheus_client's default
registry). Under several worker processes, set PROMETHEUS_MULTIPROC_DIR to an
empty directory writable by every worker, emptied at each start of the
service (prometheus_client's multiprocess mode): each process then writes its
counts there and /metrics, whichever worker answers, reports the sum of all.
The business figures are read from the database at each scrape, so they are
right whatever the number of workers; each feature gives its own (a
`FigureSource`, such as app.draws.figures), handed to `install_observability`,
so that this module knows no feature.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Literal

import structlog
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.access.policy import PUBLIC, allow
from app.errors import PROBLEM_JSON, Forbidden, Problem, ProblemItem, problem_response
from app.migrate import alembic_config
from app.routing import TransactionalRoute

log = structlog.stdlib.get_logger("shuangsui.observability")

# A feature's business figures, read from the database at each scrape.
FigureSource = Callable[[Session], Iterable[Metric]]
# A feature's reason not to be ready, if it has one now (given the app's state).
ReadinessCheck = Callable[[Session, Any], ProblemItem | None]


class _Fixed:
    """Metric families computed before the scrape, as a collector."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return iter(self.families)


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
            refusals = [check(session, state) for check in getattr(state, "readiness", ())]
    except SQLAlchemyError as exc:
        # The error may name hosts and users: it goes to the log, not to the public.
        log.warning("readiness: the database does not answer", error=str(exc))
        problems.append(
            ProblemItem(loc=["database"], code="database_unavailable", message="数据库无法连接")
        )
        return problems
    problems += [refusal for refusal in refusals if refusal is not None]
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
    sources: tuple[FigureSource, ...] = request.app.state.figures
    try:
        with factory() as session:
            # Read whole before the scrape: a source that fails leaves none half-told.
            figures = [family for source in sources for family in source(session)]
        registry.register(_Fixed(figures))
        up.add_metric([], 1)
    except SQLAlchemyError:
        # The request figures are still worth a scrape when the database is down.
        log.warning("metrics: database unavailable", exc_info=True)
        up.add_metric([], 0)
    registry.register(_Fixed([up]))
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encoder(registry), headers={"Content-Type": content_type})
