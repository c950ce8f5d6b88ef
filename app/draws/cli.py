"""`shuangsui plan ...` and `shuangsui draw ...`: plans and the ceremony from the command
line (registered by app/cli.py, which owns the unit of work every command shares).

Each command calls the same service functions as the API; the unit of work commits
once, and a commit that grew the log has its checkpoint signed, as in the service.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from app.config import get_settings

plan_cli = typer.Typer(help="抽查计划", no_args_is_help=True)
draw_cli = typer.Typer(help="抽查：冻结、揭晓种子、撤销、验证包", no_args_is_help=True)


@plan_cli.command("templates")
def plan_templates() -> None:
    """List the ready plans of the 2024 and 2025 annual plans."""
    from app.draws.templates import TEMPLATES, planned_total

    for key, template in TEMPLATES.items():
        total = planned_total(template)
        typer.echo(f"{key:22} {template.title}" + (f"（{total} 家）" if total else ""))


@plan_cli.command("create")
def plan_create(
    template: Annotated[str, typer.Argument(help="模板名，见 shuangsui plan templates")],
    actor: Annotated[str, typer.Option(help="操作人")] = "命令行",
) -> None:
    """Create a plan from a template; prints its id."""
    from app.cli import _unit_of_work
    from app.draws import service
    from app.draws.templates import TEMPLATES

    if template not in TEMPLATES:
        raise typer.BadParameter(f"没有模板 {template}", param_hint="TEMPLATE")
    with _unit_of_work() as (session, _signer):
        plan = service.create_plan(
            session, data=TEMPLATES[template], actor=actor, template_key=template
        )
        typer.echo(f"计划 {plan.id}：{plan.title}")


@draw_cli.command("freeze")
def draw_freeze(
    plan_id: int,
    witness: Annotated[list[str], typer.Option(help="见证人（至少两位，可重复）")] = [],  # noqa: B006
    ceremony_at: Annotated[
        str | None, typer.Option(help="摇号仪式时间，ISO 8601，须带时区（缺省为现在）")
    ] = None,
    source: Annotated[
        str, typer.Option(help="随机种子来源：dice、drand 或 dice+drand（推荐）")
    ] = "dice",
    drand_delay: Annotated[
        int | None,
        typer.Option(help="drand：冻结后多少秒的轮次；dice+drand：仪式开始后多少秒的轮次"),
    ] = None,
    replaces: Annotated[str | None, typer.Option(help="替代的（已撤销或失败的）抽查编号")] = None,
    actor: Annotated[str, typer.Option(help="操作人")] = "命令行",
) -> None:
    """Freeze a plan's frame now and commit to it in the public log."""
    from pydantic import ValidationError

    from app.cli import _unit_of_work
    from app.draws import ceremony, service
    from app.draws.schemas import FreezeRequest
    from app.draws.sources import SourceName

    announcement: dict[str, Any] = {"source": source}
    if source in (SourceName.DICE, SourceName.DICE_DRAND):
        announcement |= {
            "ceremony_at": ceremony_at or datetime.now(UTC).isoformat(),
            "witnesses": witness,
        }
    if drand_delay is not None:
        key = "delay_seconds" if source == SourceName.DRAND else "round_delay_seconds"
        announcement[key] = drand_delay
    try:
        request = FreezeRequest.model_validate({"seed": announcement, "replaces": replaces})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise typer.BadParameter(
            f"{'.'.join(map(str, first['loc']))}：{first['msg']}（见证人至少两位，时间须带时区）"
        ) from exc
    with _unit_of_work() as (session, _signer):
        plan = service.get_plan(session, plan_id)
        window = get_settings().ceremony_window
        draw = ceremony.freeze(session, plan=plan, request=request, actor=actor, window=window)
        typer.echo(f"已冻结 {draw.public_id}：框架哈希 {draw.frame_hash}")
        for stratum in draw.provenance["strata"]:
            typer.echo(f"  {stratum['label']}：符合条件 {stratum['eligible']} 个单位")


@draw_cli.command("seed")
def draw_seed(
    public_id: str,
    digits: Annotated[str | None, typer.Option(help="骰子点数，至少 20 位")] = None,
    witness: Annotated[list[str], typer.Option(help="在场的公告见证人（至少两位）")] = [],  # noqa: B006
    confirmed_by: Annotated[
        str | None, typer.Option(help="核对点数的见证人（缺省为第一位在场见证人）")
    ] = None,
    actor: Annotated[str, typer.Option(help="操作人")] = "命令行",
) -> None:
    """Reveal the seed (dice digits, then for dice+drand or drand the announced round) and run the draw."""
    from pydantic import ValidationError

    from app.cli import _unit_of_work
    from app.draws import ceremony, service
    from app.draws.schemas import DiceReveal
    from app.draws.sources import source_named
    from app.history import Person

    with _unit_of_work() as (session, _signer):
        draw = service.get_draw(session, public_id)
        source = source_named(draw.seed_source)
        if source.uses_dice and (draw.dice is None or not source.uses_beacon):
            try:
                reveal = DiceReveal(digits=(digits or "").replace(" ", ""), witnesses=witness)
            except ValidationError as exc:
                raise typer.BadParameter("须给出至少 20 位骰子点数和至少两位在场见证人") from exc
            witness_name = confirmed_by or reveal.witnesses[0]
            draw = ceremony.reveal_dice(
                session,
                public_id=public_id,
                reveal=reveal,
                operator=actor,
                witness=Person(actor=f"{witness_name}（{actor}）", name=witness_name),
            )
            if source.uses_beacon:
                typer.echo(
                    f"骰子点数已确认并记入日志；第 {draw.announcement['round']} 轮"
                    "发布后再次运行本命令，取 drand 信标并计算结果"
                )
        elif source.uses_beacon:
            draw = ceremony.take_beacon(session, public_id=public_id, beacon=None, actor=actor)
        _print_draw(draw)


def _print_draw(draw: Any) -> None:
    typer.echo(f"{draw.public_id}（{draw.status}）种子：{draw.seed}")
    if draw.failure:
        typer.echo(f"  抽查失败：{draw.failure['message']}")
    if draw.result_jcs:
        result = json.loads(draw.result_jcs)
        teams = {a["unit"]: a["inspectors"] for a in result.get("assignments") or []}
        for stratum in result["strata"]:
            typer.echo(f"  [{stratum['id']}]")
            for unit in stratum["selected"]:
                team = "、".join(teams.get(unit["key"], []))
                typer.echo(f"    {unit['key']}" + (f"  检查人员：{team}" if team else ""))
        for pair in result.get("pairs") or []:
            typer.echo(f"  交叉执法：{pair['team']} → {pair['target']}")


@draw_cli.command("show")
def draw_show(public_id: str) -> None:
    """Show a draw and its result."""
    from app.cli import _unit_of_work
    from app.draws import service

    with _unit_of_work() as (session, _signer):
        _print_draw(service.get_draw(session, public_id))


@draw_cli.command("annul")
def draw_annul(
    public_id: str,
    reason: Annotated[str, typer.Option(help="撤销理由（公开）")],
    decided_by: Annotated[str, typer.Option(help="决定人或决定机关")],
    actor: Annotated[str, typer.Option(help="操作人")] = "命令行",
) -> None:
    """Annul a draw in public (it stays in the log, marked annulled)."""
    from app.cli import _unit_of_work
    from app.draws import ceremony
    from app.draws.schemas import Annul

    with _unit_of_work() as (session, _signer):
        draw = ceremony.annul(
            session,
            public_id=public_id,
            data=Annul(reason=reason, decided_by=decided_by),
            actor=actor,
        )
        typer.echo(f"{draw.public_id} 已撤销：{reason}")


@draw_cli.command("bundle")
def draw_bundle(
    public_id: str,
    output: Annotated[Path | None, typer.Option("-o", help="写入文件（缺省打印）")] = None,
) -> None:
    """Write the draw's verification bundle (frame, seed, result, log entries, proofs)."""
    from app.cli import _unit_of_work
    from app.draws import bundle as bundles
    from app.draws import service

    with _unit_of_work() as (session, signer):
        bundle = bundles.draw_bundle(session, service.get_draw(session, public_id), signer)
    text = json.dumps(bundle, ensure_ascii=False, indent=1)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"已写入 {output}")
