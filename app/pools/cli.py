"""`shuangsui demo` and `shuangsui import`: the directories from the command line
(registered by app/cli.py, which owns the set-up every command shares)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.db import make_engine, make_sessionmaker


def demo(
    scale: Annotated[
        int | None, typer.Option(help="生成 N 家企业的大规模名录（基准测试用），而非衡阳示例名录")
    ] = None,
) -> None:
    """Load the demo pool of Hengyang (or a scaled pool) into an empty directory."""
    from app.cli import _prepare
    from app.pools.demo_load import load_demo_pool, load_scaled_pool

    engine = make_engine(_prepare())
    factory = make_sessionmaker(engine)
    with factory() as session:
        counts = load_demo_pool(session) if scale is None else load_scaled_pool(session, scale)
        session.commit()
    engine.dispose()
    if not counts:
        typer.echo("名录中已有企业，未载入示例名录")
        return
    typer.echo("示例名录：" + "，".join(f"{k} {v}" for k, v in counts.items()))


# A terminal shows the first problems, and never a whole cell (which may be huge).
CLI_LISTED_PROBLEMS = 50
CLI_SHOWN_CHARS = 80


def _clipped(text: str) -> str:
    return text if len(text) <= CLI_SHOWN_CHARS else text[:CLI_SHOWN_CHARS] + "…"


def import_file(
    target: Annotated[str, typer.Argument(help="enterprises | inspectors | inspections")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="只检查并报告，不写入")] = False,
    actor: Annotated[str, typer.Option(help="操作人，记入变更历史")] = "命令行导入",
) -> None:
    """Import a CSV/XLSX/XLS file into a directory: all rows or none."""
    from app.cli import _prepare
    from app.errors import ImportRejected
    from app.pools.importing import TARGETS, run_import

    if target not in TARGETS:
        raise typer.BadParameter(f"应为 {'、'.join(TARGETS)} 之一", param_hint="TARGET")
    engine = make_engine(_prepare())
    with (
        file.open("rb") as opened,
        make_sessionmaker(engine)() as session,
        typer.progressbar(length=1, label=f"导入 {file.name}") as bar,
    ):
        last = 0

        def progress(done: int, total: int) -> None:
            nonlocal last
            bar.length = max(total, 1)
            bar.update(done - last)
            last = done

        try:
            report = run_import(
                TARGETS[target],
                session,
                file=opened,
                filename=file.name,
                actor=actor,
                dry_run=dry_run,
                progress=progress,
            )
        except ImportRejected as exc:
            session.rollback()
            typer.echo("")
            typer.echo(exc.detail, err=True)
            for item in exc.errors[:CLI_LISTED_PROBLEMS]:
                where = f"第 {item.row} 行" + (f" {item.column}" if item.column else "")
                value = f"（值：{_clipped(item.value)}）" if item.value else ""
                typer.echo(f"  {where}：{item.message}{value}", err=True)
            total = exc.errors_total or len(exc.errors)
            if total > CLI_LISTED_PROBLEMS:
                typer.echo(f"  ……共 {total} 处", err=True)
            raise typer.Exit(code=1) from exc
        if dry_run:
            session.rollback()
        else:
            session.commit()
    engine.dispose()
    verb = "将" if dry_run else "已"
    typer.echo(
        f"{file.name}：{report.rows} 行；{verb}新增 {report.created}，{verb}更新 {report.updated}，"
        f"未变 {report.unchanged}"
        + ("（试运行，未写入）" if dry_run else f"；导入批次 {report.import_id}")
    )
    for warning in report.warnings:
        typer.echo(f"提示：{warning}")
