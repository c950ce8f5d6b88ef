"""The command line, driven as an operator would, on each backend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.draws.templates import TEMPLATES
from tests.factories import uscc

WITNESSES = ["--witness", "王见证（纪检监察组）", "--witness", "李公证（公证处）"]


@pytest.fixture
def run(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", db_url)
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_template_through_the_cli(run: CliRunner) -> None:
    assert "企业 5267" in _ok(run, "demo")
    listed = _ok(run, "plan", "templates")
    assert all(key in listed for key in TEMPLATES)
    for key in TEMPLATES:
        plan_id = re.search(r"计划 (\d+)", _ok(run, "plan", "create", key))
        assert plan_id is not None
        frozen = _ok(run, "draw", "freeze", plan_id.group(1), *WITNESSES)
        public_id = re.search(r"已冻结 (HY-\d{4}-\d{4})", frozen)
        assert public_id is not None, frozen
        seeded = _ok(
            run, "draw", "seed", public_id.group(1), "--digits", "27182818284590452353", *WITNESSES
        )
        assert f"{public_id.group(1)}（done）" in seeded, seeded
    assert "日志完好" in _ok(run, "audit-log")


def test_verify_command_runs_the_standalone_verifier(run: CliRunner, tmp_path: Path) -> None:
    _ok(run, "demo")
    plan_id = re.search(r"计划 (\d+)", _ok(run, "plan", "create", "2025-training"))
    assert plan_id is not None
    public_id = re.findall(
        r"HY-\d{4}-\d{4}", _ok(run, "draw", "freeze", plan_id.group(1), *WITNESSES)
    )[0]
    _ok(run, "draw", "seed", public_id, "--digits", "27182818284590452353", *WITNESSES)
    bundle = tmp_path / "bundle.json"
    _ok(run, "draw", "bundle", public_id, "-o", str(bundle))
    key = (tmp_path / "data" / "log-verifier.key").read_text().strip()
    assert "通过 / PASSED" in _ok(run, "verify", str(bundle), "--key", key)
    policy = tmp_path / "policy.txt"
    policy.write_text(f"log {key}\nquorum none\n")
    assert "通过 / PASSED" in _ok(run, "verify", str(bundle), "--policy", str(policy))
    bundle.write_text(bundle.read_text().replace("27182818284590452353", "27182818284590452354"))
    assert run.invoke(cli, ["verify", str(bundle), "--key", key]).exit_code == 1


def test_refusals_are_explained(run: CliRunner) -> None:
    _ok(run, "demo")
    plan_id = re.search(r"计划 (\d+)", _ok(run, "plan", "create", "2025-training"))
    assert plan_id is not None
    lonely = run.invoke(cli, ["draw", "freeze", plan_id.group(1), "--witness", "一人"])
    assert lonely.exit_code != 0
    frozen = _ok(run, "draw", "freeze", plan_id.group(1), *WITNESSES)
    public_id = re.findall(r"HY-\d{4}-\d{4}", frozen)[0]
    _ok(run, "draw", "seed", public_id, "--digits", "27182818284590452353", *WITNESSES)
    again = run.invoke(
        cli, ["draw", "seed", public_id, "--digits", "11111111111111111111", *WITNESSES]
    )
    assert again.exit_code == 1
    assert "不能更改或重抽" in again.output


def test_import_with_progress_and_row_errors(run: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "企业.csv"
    header = "统一社会信用代码,企业名称,县市区,企业类别\n"
    good.write_text(
        header + f"{uscc(serial=1)},甲公司有限公司,衡南县,加油站\n"
        f"{uscc(serial=2)},乙公司有限公司,耒阳市,化工企业\n",
        encoding="gb18030",
    )
    dry = _ok(run, "import", "enterprises", str(good), "--dry-run")
    assert "将新增 2" in dry
    done = _ok(run, "import", "enterprises", str(good))
    assert "已新增 2" in done
    bad = tmp_path / "坏.csv"
    bad.write_text(header + f"{uscc(serial=3)},丙公司有限公司,长沙县,加油站\n", encoding="utf-8")
    result = run.invoke(cli, ["import", "enterprises", str(bad)])
    assert result.exit_code == 1
    assert "第 2 行 C（县市区）" in result.output
    assert "长沙县" in result.output


def test_scaled_demo_pool_for_benchmarks(run: CliRunner) -> None:
    assert "企业 3000" in _ok(run, "demo", "--scale", "3000")
    # a second load never mixes pools: the directory is no longer empty
    assert "未载入示例名录" in _ok(run, "demo", "--scale", "10")


def test_serve_starts_with_fresh_multiprocess_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli import _fresh_metrics_dir

    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"stale")
    (folder / "notes.txt").write_text("kept")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    _fresh_metrics_dir()
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
