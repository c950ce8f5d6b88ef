"""`shuangsui log ...`: commands about the public log (registered by app/cli.py).

The guard's recoveries and the key's rotation are described in docs/log-guard.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.config import get_settings
from app.db import make_engine, make_sessionmaker

log_cli = typer.Typer(help="公开日志", no_args_is_help=True)


@log_cli.command("export-tiles")
def log_export_tiles(
    directory: Annotated[Path, typer.Argument(help="目录：其内容与 /tlog/ 下所提供的完全相同")],
    again: Annotated[
        bool, typer.Option("--again", help="重新核对并补写所有瓦片，而非只写新增部分")
    ] = False,
) -> None:
    """Write the log as C2SP tlog-tiles files (incrementally) for a static server or CDN."""
    from app.ledger.export import ExportRefused, export_tiles

    engine = make_engine(get_settings().resolved_database_url)
    try:
        with make_sessionmaker(engine)() as session:
            done = export_tiles(session, directory, again=again)
    except ExportRefused as exc:
        typer.echo(f"未导出：{exc}", err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    typer.echo(
        f"已导出至 {directory}：日志大小 {done.previous_size} → {done.size}，"
        f"新写 {done.written} 个文件，{done.kept} 个已有且一致"
    )


@log_cli.command("trust-checkpoint")
def log_trust_checkpoint(
    yes: Annotated[bool, typer.Option("--yes", help="确认：已核实数据库无误")] = False,
    reason: Annotated[str, typer.Option(help="理由（记入数据目录的 log-guard.log）")] = "",
) -> None:
    """Re-pin the kept checkpoint to the database's latest one, after the database was verified."""
    from app.cli import _prepare, _signer
    from app.ledger import guard

    settings = get_settings()
    engine = make_engine(_prepare())
    try:
        factory = make_sessionmaker(engine)
        signer = _signer(factory)
        with factory() as session:
            plan = guard.trust_plan(session, signer)
    finally:
        engine.dispose()
    kept = (
        f"大小 {plan.kept_size}，根哈希 {plan.kept_root}"
        if plan.kept_size is not None
        else "（无）"
    )
    typer.echo(f"数据目录保存的检查点：{kept}")
    typer.echo(f"数据库最新的签名检查点：大小 {plan.db_size}，根哈希 {plan.db_root}")
    if not yes:
        typer.echo(
            "未改动。只有在核实数据库就是应有的日志（shuangsui audit-log 通过，且已发布的检查点"
            "与之一致）之后，才加 --yes 再次运行",
            err=True,
        )
        raise typer.Exit(code=1)
    guard.trust_checkpoint(settings.data_dir, plan, reason=reason or "（未说明）")
    typer.echo(f"已将保存的检查点改为数据库的大小 {plan.db_size}；记录见 {guard.RECORD_FILE}")


@log_cli.command("clear-alarm")
def log_clear_alarm(
    reason: Annotated[str, typer.Option(help="核实的结果与理由（必填，记入 log-guard.log）")],
) -> None:
    """Clear the rollback alarm a witness raised, once its cause is understood."""
    from app.ledger import guard

    if not reason.strip():
        raise typer.BadParameter("须说明理由", param_hint="--reason")
    text = guard.clear_alarm(get_settings().data_dir, reason)
    if text is None:
        typer.echo("没有回滚警报")
        return
    typer.echo(f"已解除回滚警报：{text.strip()}")


@log_cli.command("rotate-key")
def log_rotate_key(
    finish: Annotated[
        bool, typer.Option("--finish", help="结束换钥：停用旧密钥（其公钥留作验证旧检查点）")
    ] = False,
) -> None:
    """Rotate the log's signing key: a new key signs alongside the old, then replaces it."""
    from app.cli import _origin, _prepare
    from app.ledger import guard
    from app.ledger.keys import KeyFileError, finish_rotation, start_rotation

    settings = get_settings()
    _prepare()  # the key must be the log's before it is rotated
    try:
        if finish:
            old, new = finish_rotation(settings.data_dir, _origin())
        else:
            new = start_rotation(settings.data_dir, _origin())
    except KeyFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    if finish:
        guard.record(settings.data_dir, "rotate-key --finish", retired=old, key=new)
        typer.echo(f"旧公钥已停用（保存在 log-verifier.retired）：{old}")
        typer.echo(f"现用公钥：{new}")
    else:
        guard.record(settings.data_dir, "rotate-key", next_key=new)
        typer.echo(f"新公钥（重启服务后与旧密钥共同签署每个检查点）：{new}")
        typer.echo("请公布新公钥、更新见证策略文件，过渡期后运行 shuangsui log rotate-key --finish")
    typer.echo("重启服务后生效")
