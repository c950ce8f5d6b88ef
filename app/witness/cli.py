"""`shuangsui witness ...`: run a witness (init, serve), and the log's client side (push, status)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

witness_cli = typer.Typer(
    help="见证：运行一个 C2SP 见证人（init、serve），或把检查点送交见证（push、status）",
    no_args_is_help=True,
)

DirOption = Annotated[Path, typer.Option("--dir", help="见证人的数据目录（密钥、状态文件）")]


@witness_cli.command("init")
def init(
    name: Annotated[
        str,
        typer.Argument(help="见证人名称，建议用本单位域名下的网址，如 jw.hengyang.gov.cn/witness"),
    ],
    directory: DirOption = Path("witness-data"),
) -> None:
    """Make the witness's key (once) and print its verifier key for the log's policy file."""
    from app.witness.keys import WitnessConfigError, create_key

    try:
        vkey = create_key(directory, name)
    except WitnessConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    typer.echo("见证人公钥（交给日志运营方，写入其策略文件的 witness 行）：")
    typer.echo(vkey)


@witness_cli.command("serve")
def serve(
    logs: Annotated[
        Path, typer.Option(help="要见证的日志：每行 log <日志公钥>（C2SP tlog-policy 格式）")
    ],
    directory: DirOption = Path("witness-data"),
    host: str = "127.0.0.1",
    port: int = 7380,
    prefix: Annotated[str, typer.Option(help="提交前缀的路径部分，如 /witness")] = "",
) -> None:
    """Serve C2SP tlog-witness add-checkpoint (and the monitoring checkpoint) over HTTP."""
    import uvicorn

    from app.witness.core import Witness
    from app.witness.keys import WitnessConfigError, load_key, load_logs
    from app.witness.state import STATE_FILE, WitnessState
    from app.witness.web import create_witness_app

    try:
        key = load_key(directory)
        trusted = load_logs(logs)
    except WitnessConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    witness = Witness(key, trusted, WitnessState(directory / STATE_FILE))
    typer.echo(f"见证人 {key.name}：见证 {'、'.join(trusted)}；公钥 {key.cosigner.vkey}")
    uvicorn.run(create_witness_app(witness, prefix), host=host, port=port, log_level="info")


@witness_cli.command("push")
def push() -> None:
    """Send the log's latest checkpoint to the policy's witnesses now, and say what each answered."""
    from app.cli import _prepare, _signer
    from app.config import get_settings
    from app.db import make_engine, make_sessionmaker
    from app.ledger.witness_worker import Witnessing
    from app.ledger.witnessing import Submitted, WitnessPolicyError, load_policy

    settings = get_settings()
    if settings.witness_policy is None:
        typer.echo("未配置见证策略文件（SHUANGSUI_WITNESS_POLICY）", err=True)
        raise typer.Exit(code=1)
    engine = make_engine(_prepare())
    factory = make_sessionmaker(engine)
    signer = _signer(factory)
    try:
        policy = load_policy(settings.witness_policy, signer.published_keys)
        client = Witnessing(factory, policy, data_dir=settings.data_dir)
        try:
            outcomes = client.run_once()
        finally:
            client.http.close()
    except WitnessPolicyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(code=1) from exc
    finally:
        engine.dispose()
    words = {
        Submitted.COSIGNED: "已联署",
        Submitted.CURRENT: "已是最新",
        Submitted.WAITING: "稍后重试",
        Submitted.AHEAD: "报告更大的日志（回滚警报）",
        Submitted.FAILED: "失败",
    }
    for outcome in outcomes:
        size = f" 大小 {outcome.size}" if outcome.size is not None else ""
        typer.echo(f"{outcome.witness}：{words[outcome.status]}{size} {outcome.detail}".rstrip())
    if any(o.status in (Submitted.AHEAD, Submitted.FAILED) for o in outcomes):
        raise typer.Exit(code=1)


@witness_cli.command("status")
def status() -> None:
    """What the log knows of each witness: the size it cosigned, the last error, any alarm."""
    from app.cli import _unit_of_work
    from app.config import get_settings
    from app.ledger import witnessing
    from app.ledger.witness_models import WitnessState

    settings = get_settings()
    with _unit_of_work() as (session, signer):
        states = {state.vkey: state for state in witnessing.status(session)}
        if settings.witness_policy is not None:
            try:
                policy = witnessing.load_policy(settings.witness_policy, signer.published_keys)
            except witnessing.WitnessPolicyError as exc:
                typer.echo(str(exc), err=True)
                raise typer.Exit(code=1) from exc
            for witness in policy.witnesses:
                if witness.url is None:
                    typer.echo(f"{witness.name}\t（无网址：只用于验证，不向其提交）")
                elif witness.vkey not in states:
                    states[witness.vkey] = WitnessState(vkey=witness.vkey, name=witness.name)
        for state in sorted(states.values(), key=lambda s: s.name):
            size = "未知" if state.size is None else str(state.size)
            error = f"；最近的错误：{state.last_error}" if state.last_error else ""
            typer.echo(f"{state.name}\t已联署大小 {size}{error}")
        alarm = witnessing.ahead_of_us(session)
        session.expunge_all()
    if alarm:
        typer.echo(alarm, err=True)
        raise typer.Exit(code=2)
