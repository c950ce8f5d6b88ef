"""The application: routers, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.access.policy import policy_of
from app.access.router import router as keys_router
from app.config import Settings, get_settings
from app.db import MAX_CONNECTIONS, make_engine, make_sessionmaker
from app.draws.figures import draw_figures
from app.draws.plan_routes import router as plans_router
from app.draws.router import router as draws_router
from app.errors import DomainError, Problem, problem_response
from app.idempotency import Replay
from app.ledger import guard
from app.ledger.guard import open_signer
from app.ledger.origin import resolve_origin
from app.ledger.proof_router import router as proof_router
from app.ledger.router import router as log_router
from app.ledger.store import sign_after_commit, sign_pending
from app.ledger.tlog_router import ReadCors
from app.ledger.tlog_router import router as tlog_router
from app.ledger.witness_worker import start_witnessing
from app.limits import BodySizeLimit, InFlight
from app.observability import install_observability
from app.openapi import install as install_openapi
from app.openapi import operation_id
from app.pools.enterprise_routes import router as enterprises_router
from app.pools.exports import router as exports_router
from app.pools.figures import directory_figures
from app.pools.inspector_routes import router as inspectors_router
from app.pools.router import router as pools_router
from app.pools.transfer import router as transfer_router
from app.public.cache import LogVersion, PublicPageCache
from app.public.docs import mount_static
from app.public.docs import router as docs_router
from app.public.errors import error_page, wants_html
from app.public.guide import router as guide_router
from app.public.headers import PublicHeaders
from app.public.router import router as public_router
from app.routing import TransactionalRoute, api_routes
from app.validation import validation_problem

log = logging.getLogger("shuangsui")

_HTTP_TITLES = {
    400: ("malformed_body", "请求体无法解析"),
    401: ("unauthorized", "未认证"),
    403: ("forbidden", "无权操作"),
    404: ("not_found", "未找到"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("payload_too_large", "请求过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
}


def _answer(request: Request, problem: Problem, headers: dict[str, str] | None = None) -> Response:
    """problem+json, or the same problem as a page for a person's browser."""
    if wants_html(request):
        return error_page(request, problem, headers)
    return problem_response(problem, headers=headers)


async def _domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    headers = None if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
    return _answer(request, exc.problem(), headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return problem_response(validation_problem(exc.errors()))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, title = _HTTP_TITLES.get(exc.status_code, ("http_error", "请求失败"))
    headers = getattr(exc, "headers", None)
    # The framework's own details are English: each status gets its Chinese sentence.
    if exc.status_code == 404:
        detail = "没有这个地址"
    elif exc.status_code == 405:
        allowed = next((v for k, v in (headers or {}).items() if k.lower() == "allow"), "")
        detail = f"此地址不支持 {request.method} 方法" + (f"；可用：{allowed}" if allowed else "")
    elif exc.status_code == 400:
        detail = "请求体无法解析：请检查 Content-Type 与请求体（上传文件须为 multipart/form-data）"
    else:
        detail = title
    problem = Problem(
        type=f"urn:shuangsui:error:{code}",
        status=exc.status_code,
        code=code,
        title=title,
        detail=detail,
    )
    return _answer(request, problem, headers)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # The database refused a value the schemas let through (a NUL character, a
    # string too long for its column): the client's input, so 422, and nothing written.
    log.warning("database refused a value", exc_info=exc)
    problem = Problem(
        type="urn:shuangsui:error:unstorable_value",
        status=422,
        code="unstorable_value",
        title="输入数据不合规",
        detail="请求中有数据库无法保存的值（如不可见的控制字符 NUL，或超长的文字），未写入任何数据",
    )
    return problem_response(problem)


async def _replay(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Replay)
    return exc.response


async def _unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    problem = Problem(
        type="urn:shuangsui:error:internal",
        status=500,
        code="internal_error",
        title="服务器内部错误",
        detail="服务器处理请求时出错，未写入任何数据；请稍后重试或联系管理员",
    )
    return problem_response(problem)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for these settings (the environment's by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.resolved_database_url)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        origin = resolve_origin(settings.log_origin, settings.data_dir)
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        # A missing or foreign key of a signed log stops the service here (KeyFileError).
        app.state.signer = open_signer(settings.data_dir, origin, app.state.sessionmaker)
        with app.state.sessionmaker() as session:
            refused = guard.problem(session, app.state.signer)
        if refused is not None:
            # The service runs, not ready: /readyz and every write say why.
            log.error("log guard: %s: %s", refused.code, refused.detail)
        else:
            try:
                # What a process that stopped between a commit and its signature left
                # unsigned; the empty log's first checkpoint.
                sign_pending(app.state.sessionmaker, app.state.signer)
            except SQLAlchemyError:
                # No database or no schema yet (/readyz says so): the first commit that
                # grows the log, or the next start, signs.
                log.warning("cannot sign the log at start: the database cannot be read")
        app.state.witnessing = start_witnessing(settings, app.state.sessionmaker, app.state.signer)

        def signed() -> None:
            app.state.log_version.expire()
            if app.state.witnessing is not None:
                app.state.witnessing.poke()

        # Every commit that grew the log gets its checkpoint, and the public pages read the
        # new size; the witnesses are asked in the background. A signature that fails
        # after its commit is retried from a second on (proofs answer Retry-After: 1).
        signing_later = sign_after_commit(
            app.state.sessionmaker, app.state.signer, then=signed, retry_seconds=1.0
        )
        yield
        if signing_later is not None:
            signing_later.stop()
        if app.state.witnessing is not None:
            app.state.witnessing.stop()
        engine.dispose()

    app = FastAPI(
        # ASCII: generators make the client's package name of it.
        title="shuangsui",
        version=__version__,
        description=(
            "**双随机、一公开 抽查服务**（shuangsui）：检查对象名录库、执法检查人员名录库、"
            "可复现可验证的随机抽查与公开日志。\n\n"
            "所有错误以 application/problem+json（RFC 9457）返回：`code` 为稳定的英文错误码，"
            "`title`/`detail` 为中文说明，`errors` 逐条指出问题所在（字段、行、列）。"
            "每个操作列出它可能返回的错误码（`x-error-codes`）和所需角色（`x-roles`）。\n\n"
            "`X-Actor`（经办人姓名）可直接以 UTF-8 发送，或按 UTF-8 百分号编码。"
        ),
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        # Served by app.public.docs from the service's own files, not from a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    # Taken by the routes for their work only (app.routing), never while a body arrives.
    app.state.in_flight = InFlight(MAX_CONNECTIONS)
    app.add_middleware(
        BodySizeLimit,
        max_body=settings.max_body_bytes,
        # The multipart envelope adds a little to the file itself.
        max_upload=settings.max_upload_bytes + 64 * 1024,
    )
    # Outermost of these: a page served again needs no body, no thread, no connection.
    app.add_middleware(PublicPageCache, renderings=settings.public_render_rate)
    # Outside the cache, so that cached answers carry them too.
    app.add_middleware(PublicHeaders)
    app.add_middleware(ReadCors)
    app.state.log_version = LogVersion()
    app.state.settings = settings
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Replay, _replay)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(Exception, _unexpected_error)

    app.include_router(transfer_router)
    app.include_router(exports_router)
    app.include_router(enterprises_router)
    app.include_router(inspectors_router)
    app.include_router(pools_router)
    app.include_router(plans_router)
    app.include_router(draws_router)
    app.include_router(log_router)
    app.include_router(proof_router)
    app.include_router(tlog_router)
    app.include_router(public_router)
    app.include_router(docs_router)
    app.include_router(guide_router)
    mount_static(app)
    app.include_router(keys_router)
    install_observability(
        app, figures=(draw_figures, directory_figures), readiness=(guard.readiness,)
    )
    install_openapi(app)
    _check_routes(app)
    return app


def _check_routes(app: FastAPI) -> None:
    """Refuse to start with a route that has no access policy or no transaction."""
    routes = list(api_routes(app.routes))
    if len(routes) < 10:  # pragma: no cover - FastAPI changed how it keeps routes
        raise RuntimeError("cannot find the application's routes to check their policies")
    for route in routes:
        if policy_of(route.dependencies) is None:
            raise RuntimeError(f"route {route.path} declares no access policy")
        if not isinstance(route, TransactionalRoute):
            raise RuntimeError(
                f"route {route.path} is not a TransactionalRoute: it would never commit"
            )
