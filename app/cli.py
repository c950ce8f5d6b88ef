"""The command line: `shuangsui serve | migrate | audit-log | keys | verify | monitor`,
and the features' commands it registers (each group in its feature's cli module:
demo and import in app/pools/cli.py, plan and draw in app/draws/cli.py, log in
app/ledger/log_cli.py, witness in app/witness/cli.py). The set-up they share, the
data directory, the log's key and the schema (`_prepare`) and the unit of work
(`_unit_of_work`), is here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from app.config import get_settings
from app.db import make_engine, make_sessionmaker
from app.draws.cli import draw_cli, plan_cli
from app.ledger.log_cli import log_cli
from app.migrate import upgrade
from app.pools import cli as pools_cli
from app.witness.cli import witness_cli

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from app.ledger.keys import Signer

cli = typer.Typer(help="shuangsui：双随机、一公开 抽查服务", no_args_is_help=True)


def _origin() -> str:
    """The log's origin (app.ledger.origin); a refused one stops the command with its reason."""
    from app.ledger.origin import OriginError, resolve_origin

    settings = get_settings()
    try:
        return resolve_origin(settings.log_origin, settings.data_dir)
    except OriginError as exc:
        typer.echo(f"拒绝启动：{exc}", err=True)
        raise typer.Exit(code=2) from exc


def _prepare() -> str:
    """Create the data directory, the schema and (first start only) the log's key; return
    the database URL. A missing or foreign key of a signed log stops the command."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    upgrade(url)
    # Before `serve` starts its workers, so that they find one key and make none.
    engine = make_engine(url)
    try:
        _signer(make_sessionmaker(engine))
    finally:
        engine.dispose()
    return url


def _signer(factory: sessionmaker[Session]) -> Signer:
    """The log's signer (app.ledger.guard.open_signer); a refused key stops the command."""
    from app.ledger.guard import open_signer
    from app.ledger.keys import KeyFileError

    try:
        return open_signer(get_settings().data_dir, _origin(), factory)
    except KeyFileError as exc:
        typer.echo(f"拒绝启动：{exc}", err=True)
        raise typer.Exit(code=2) from exc


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    url = _prepare()
    typer.echo(f"数据库已是最新结构：{url}")


# The directories' commands live with the directories (app/pools/cli.py).
cli.command("demo")(pools_cli.demo)


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_pool: Annotated[bool, typer.Option("--demo", help="名录为空时载入衡阳示例名录")] = False,
    workers: int = 1,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="反向代理的地址（逗号分隔），只信任其 X-Forwarded-For；默认 127.0.0.1"),
    ] = None,
) -> None:
    """Migrate, optionally load the demo pool, and serve the API."""
    import uvicorn

    from app.pools.demo_load import load_demo_pool
    from app.server import PROTOCOL

    _serving_origin(host, port, demo=demo_pool)
    url = _prepare()
    _fresh_metrics_dir()
    if demo_pool:
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            counts = load_demo_pool(session)
            session.commit()
        engine.dispose()
        if counts:
            typer.echo("已载入示例名录：" + "，".join(f"{k} {v}" for k, v in counts.items()))
        _demo_keys(url)
    typer.echo(f"API 文档：http://{host}:{port}/docs")
    settings = get_settings()
    uvicorn.run(
        "app.asgi:app",
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        # Request line and headers bounded in size and time (app.server), idle
        # connections closed, and no more connections than a worker can hold.
        http=PROTOCOL,
        timeout_keep_alive=settings.keep_alive_seconds,
        limit_concurrency=settings.max_connections,
        forwarded_allow_ips=forwarded_allow_ips,
    )


def _serving_origin(host: str, port: int, *, demo: bool) -> None:
    """Production names its log itself; the demo, unless told, names it after its address."""
    from app.ledger.origin import OriginError, demo_origin, production_origin

    configured = get_settings().log_origin
    if demo and not configured:
        # In the environment, so that the workers uvicorn starts read the same.
        os.environ["SHUANGSUI_LOG_ORIGIN"] = demo_origin(host, port)
        get_settings.cache_clear()
        return
    try:
        production_origin(configured)
    except OriginError as exc:
        typer.echo(f"拒绝启动：{exc}", err=True)
        raise typer.Exit(code=2) from exc


def _fresh_metrics_dir() -> None:
    """Empty the multiprocess metrics directory: counters of an earlier run must not add up."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def _demo_keys(url: str) -> None:
    """Fresh demo keys of each role (earlier demo keys are revoked), printed for the docs' Authorize box."""
    from sqlalchemy import select

    from app.access.keys import create_key, revoke_key
    from app.access.models import ApiKey
    from app.access.policy import ROLE_NAMES, Role

    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        stale = select(ApiKey).where(ApiKey.name.like("演示%"), ApiKey.revoked_at.is_(None))
        for key in session.scalars(stale):
            revoke_key(session, key=key, actor="演示启动")
        typer.echo("演示用 API 密钥（在 API 文档的 Authorize 中填写；重启后作废）：")
        for role in Role:
            issued = create_key(
                session,
                name=f"演示{ROLE_NAMES[role]}",
                role=role,
                actor="演示启动",
                expires_at=None,
            )
            typer.echo(f"  {role.value:<8} {issued.secret}")
        session.commit()
    engine.dispose()


cli.command("import")(pools_cli.import_file)


@cli.command("audit-log")
def audit_log() -> None:
    """Re-read the whole public log, recompute it, and check every signed checkpoint."""
    from app.ledger.audit import audit

    engine = make_engine(_prepare())
    factory = make_sessionmaker(engine)
    signer = _signer(factory)
    with factory() as session:
        report = audit(session, signer.known_keys)
    engine.dispose()
    if report.ok:
        typer.echo(
            f"日志完好：{report.size} 条，{report.checkpoints} 个已签名检查点均一致；"
            f"{report.draws} 个抽查的框架、种子与结果均与日志相符，历史记录只许追加"
        )
        return
    where = f"自第 {report.first_bad_index} 条起" if report.first_bad_index is not None else ""
    typer.echo(f"日志{where}有问题：", err=True)
    for problem in report.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(code=1)


keys_cli = typer.Typer(help="API 密钥：创建、查询、吊销（密钥只显示一次）", no_args_is_help=True)
cli.add_typer(plan_cli, name="plan")
cli.add_typer(draw_cli, name="draw")
cli.add_typer(keys_cli, name="keys")
cli.add_typer(witness_cli, name="witness")
cli.add_typer(log_cli, name="log")


@contextmanager
def _unit_of_work(actor: str = "命令行") -> Iterator[tuple[Session, Signer]]:
    """A session committed once at the end, with the log's signer; errors print in Chinese.

    A commit that grew the log has its checkpoint signed, as in the service.
    """
    from app.errors import DomainError
    from app.ledger.store import sign_after_commit

    engine = make_engine(_prepare())
    factory = make_sessionmaker(engine)
    signer = _signer(factory)
    sign_after_commit(factory, signer)
    try:
        with factory() as session:
            try:
                yield session, signer
                session.commit()
            except DomainError as exc:
                session.rollback()
                typer.echo(f"{exc.title}：{exc.detail}", err=True)
                raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()


@keys_cli.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="admin | operator | witness | auditor")],
    name: Annotated[str, typer.Option(help="使用者名称，如“省执法系统”")],
    days: Annotated[int | None, typer.Option(help="有效天数（不填为长期有效）")] = None,
) -> None:
    """Create an API key. Its secret is printed this once; only its hash is kept."""
    from datetime import timedelta

    from app.access.keys import create_key
    from app.access.policy import Role

    try:
        chosen = Role(role)
    except ValueError as exc:
        raise typer.BadParameter(f"应为 {' | '.join(r.value for r in Role)} 之一") from exc
    expires = datetime.now(UTC) + timedelta(days=days) if days is not None else None
    with _unit_of_work() as (session, _signer):
        issued = create_key(
            session, name=name, role=chosen, actor="命令行（服务器控制台）", expires_at=expires
        )
    typer.echo(f"已创建 API 密钥 {issued.key.prefix}（{name}，{role}）。请立即保存，此后不再显示：")
    typer.echo(issued.secret)


@keys_cli.command("list")
def keys_list() -> None:
    """Every key issued: prefix, role, holder, status, last use."""
    from app.access.keys import list_keys
    from app.access.router import key_out

    with _unit_of_work() as (session, _signer):
        for key in list_keys(session):
            out = key_out(key)
            used = f"{out.last_used_at:%Y-%m-%d %H:%M}" if out.last_used_at else "从未使用"
            typer.echo(
                f"{out.id}\t{out.prefix}\t{out.role}\t{out.status}\t{out.name}\t最近使用：{used}"
            )


@keys_cli.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="密钥编号或公开前缀")]) -> None:
    """Revoke a key for good."""
    from app.access.keys import find_key, revoke_key

    with _unit_of_work() as (session, _signer):
        revoked = revoke_key(session, key=find_key(session, key), actor="命令行（服务器控制台）")
    typer.echo(f"已吊销 API 密钥 {revoked.prefix}（{revoked.name}）")


@cli.command("verify")
def verify(
    bundle: Annotated[str, typer.Argument(help="验证包文件或网址")],
    key: Annotated[str | None, typer.Option(help="日志公钥（应独立取得）")] = None,
    draw_only: Annotated[
        bool, typer.Option("--draw-only", help="只核对 frame、seed、result")
    ] = False,
    policy: Annotated[
        Path | None, typer.Option(help="C2SP tlog-policy 信任策略（日志、见证人、法定数）")
    ] = None,
    proof: Annotated[Path | None, typer.Option(help="结果条目的 .tlog-proof 证明")] = None,
) -> None:
    """Verify a draw's bundle (or a .tlog-proof) with the standalone verifier (verifier/verify.py)."""
    import importlib.util

    from app.migrate import PROJECT_ROOT

    spec = importlib.util.spec_from_file_location("verify", PROJECT_ROOT / "verifier" / "verify.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    args = [bundle] + (["--key", key] if key else []) + (["--draw-only"] if draw_only else [])
    args += (["--policy", str(policy)] if policy else []) + (
        ["--proof", str(proof)] if proof else []
    )
    raise typer.Exit(code=module.main(args))


@cli.command("monitor")
def monitor(
    url: Annotated[str, typer.Argument(help="日志的 tlog 前缀网址，如 https://…/tlog")],
    state: Annotated[Path, typer.Option(help="状态文件（JSON），记录上次核实的检查点")],
    key: Annotated[list[str], typer.Option(help="日志公钥（应独立取得；可重复，如换钥期间）")],
    witness: Annotated[
        list[str] | None,
        typer.Option(help="见证人公钥（cosignature/v1 vkey；可重复）：检查联署的新鲜度"),
    ] = None,
    max_age: Annotated[int, typer.Option(help="最新见证人联署的最大时长（秒）")] = 86_400,
    watch: Annotated[
        list[str] | None, typer.Option(help="关注的企业统一社会信用代码（可重复）")
    ] = None,
) -> None:
    """Follow a public log over C2SP tiles; exit 0 sound, 1 ALARM, 2 cannot check, 3 news
    about a watched enterprise (see docs/monitor.md)."""
    from app.monitor import Options, http_fetch, run

    options = Options(url, state, key, witness or [], max_age, watch or [])
    raise typer.Exit(code=run(options, http_fetch))


def main() -> None:
    """Entry point of the `shuangsui` command."""
    cli()
