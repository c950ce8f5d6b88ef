"""`shuangsui log ...`: commands about the public log (registered by app/cli.py)."""

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
