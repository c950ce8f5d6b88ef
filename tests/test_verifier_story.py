"""The verifier tells the whole story: standing, a bundle that hides an entry, the
ceremony's timing as the log shows it, and the drand beacon's signature.

The first tests run verify.py as an auditor does, as a separate program against
a real server process; the others give its ceremony checks entries that an
honest service would never log, which it must reject.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.auditor import copy_verifier, load_verifier
from tests.factories import ceremony_time
from tests.test_concurrency import Server, prepare_service, start_server

ROOT = Path(__file__).resolve().parents[1]
WITNESSES = ["甲见证人（纪检监察组）", "乙见证人（公证处）"]
DIGITS = "38274619283746529183"
ANNUL = {"reason": "抽中企业名单与实际不符，经局务会决定撤销", "decided_by": "局务会"}


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    keys = prepare_service(db_url, tmp_path)
    running = start_server(db_url, tmp_path, tmp_path / "uvicorn.log")
    try:
        yield running, keys
    finally:
        running.stop()


def _verify(tmp_path: Path, bundle: dict[str, Any], *args: str) -> subprocess.CompletedProcess[str]:
    auditor = tmp_path / "auditor"
    auditor.mkdir(exist_ok=True)
    copy_verifier(auditor)
    (auditor / "bundle.json").write_text(json.dumps(bundle, ensure_ascii=False), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "verify.py", "bundle.json", *args],
        cwd=auditor,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
        timeout=120,
    )


def _done_draw(api: httpx.Client, witness_key: str, template: str) -> str:
    plan = api.post(f"/api/v1/plans/from-template/{template}").json()
    freeze = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    public_id: str = api.post(f"/api/v1/plans/{plan['id']}/freeze", json=freeze).json()["public_id"]
    api.post(f"/api/v1/draws/{public_id}/seed", json={"digits": DIGITS, "witnesses": WITNESSES})
    done = api.post(
        f"/api/v1/draws/{public_id}/seed/confirm",
        json={"digits": DIGITS},
        headers={"X-API-Key": witness_key, "X-Actor": quote(WITNESSES[1])},
    )
    assert done.json()["status"] == "done", done.text
    return public_id


def test_an_annulled_draw_does_not_stand_and_a_bundle_cannot_hide_it(
    server: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    running, keys = server
    with httpx.Client(
        base_url=running.base, headers={"X-API-Key": keys["operator"]}, timeout=30
    ) as api:
        public_id = _done_draw(api, keys["witness"], "2025-training")
        key = api.get("/api/v1/log/key").text.strip()
        honest = api.get(f"/api/v1/draws/{public_id}/bundle").json()
        assert api.post(f"/api/v1/draws/{public_id}/annul", json=ANNUL).status_code == 200
        plan_id = api.get(f"/api/v1/draws/{public_id}").json()["plan_id"]
        freeze = {
            "seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES},
            "replaces": public_id,
        }
        successor = api.post(f"/api/v1/plans/{plan_id}/freeze", json=freeze).json()["public_id"]
        annulled = api.get(f"/api/v1/draws/{public_id}/bundle").json()
        later = _done_draw(api, keys["witness"], "2024-hazchem")  # the log grows past it

    # before the annulment the draw stood, and with the log it still checks out
    assert _verify(tmp_path, honest, "--key", key).returncode == 0

    told = _verify(tmp_path, annulled, "--key", key, "--log", running.base)
    assert told.returncode == 3, told.stdout + told.stderr
    assert "✗" not in told.stdout
    assert ANNUL["reason"] in told.stdout and ANNUL["decided_by"] in told.stdout
    assert successor in told.stdout
    assert "不成立" in told.stdout

    # the same bundle with its annulment cut out and its status made "done"
    hidden = copy.deepcopy(annulled)
    entries = hidden["log"]["entries"]
    cut = next(e for e in entries if e["entry"]["kind"] == "annulment")
    entries.remove(cut)
    hidden |= {"status": "done", "annulment": None, "replaced_by": None}
    unaware = _verify(tmp_path, hidden, "--key", key)
    assert unaware.returncode == 0  # without the log, nobody can tell
    caught = _verify(tmp_path, hidden, "--key", key, "--log", running.base)
    assert caught.returncode == 1, caught.stdout
    assert f"✗ 第 {cut['index']} 条（annulment）包含在验证包中" in caught.stdout

    # the old bundle, from before the annulment, is found out by the log as well
    stale = _verify(tmp_path, honest, "--key", key, "--log", running.base)
    assert stale.returncode == 1 and "（annulment）包含在验证包中" in stale.stdout
    assert later != public_id


def test_the_log_must_hash_to_the_signed_root(
    server: tuple[Server, dict[str, str]], tmp_path: Path
) -> None:
    running, keys = server
    with httpx.Client(
        base_url=running.base, headers={"X-API-Key": keys["operator"]}, timeout=30
    ) as api:
        public_id = _done_draw(api, keys["witness"], "2025-training")
        key = api.get("/api/v1/log/key").text.strip()
        bundle = api.get(f"/api/v1/draws/{public_id}/bundle").json()
    # a bundle claiming a larger tree than the log it points to cannot be matched
    forged = copy.deepcopy(bundle)
    forged["log"]["tree_size"] += 5
    result = _verify(tmp_path, forged, "--key", key, "--log", running.base)
    assert result.returncode == 1
    good = _verify(tmp_path, bundle, "--key", key, "--log", running.base)
    assert good.returncode == 0, good.stdout
    assert f"日志前 {bundle['log']['tree_size']} 条的根哈希与验证包的检查点一致" in good.stdout


# -- the ceremony's timing, from entries an honest service would not write ------------

FRAME_HASH = "a" * 64
ROUND = 657413
RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"
SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
ROUND_AT = "2023-09-15T11:00:03Z"  # 1692803367 + 3 × (657413 − 1), from the spec's formula


def _dice_story(**times: str) -> tuple[str, list[dict[str, Any]]]:
    t = {
        "committed": "2024-06-03T01:00:00Z",
        "start": "2024-06-03T02:00:00Z",
        "until": "2024-06-03T04:00:00Z",
        "seeded": "2024-06-03T02:10:00Z",
    } | times
    seed = f"dice/{DIGITS}/{FRAME_HASH}"
    return seed, [
        {
            "kind": "commitment",
            "at": t["committed"],
            "draw": "D",
            "frame_hash": FRAME_HASH,
            "seed_source": {
                "source": "dice",
                "ceremony_at": t["start"],
                "digits_until": t["until"],
                "witnesses": WITNESSES,
            },
        },
        {"kind": "seed", "at": t["seeded"], "draw": "D", "seed": seed},
    ]


def _dice_drand_story(**times: str) -> tuple[str, list[dict[str, Any]]]:
    t = {
        "committed": "2023-09-15T10:00:00Z",
        "start": "2023-09-15T10:30:03Z",
        "until": "2023-09-15T11:00:02Z",
        "fixed": "2023-09-15T10:35:00Z",
        "seeded": "2023-09-15T11:00:10Z",
    } | times
    seed = f"dice+drand/{DIGITS}:quicknet:{ROUND}:{RANDOMNESS}/{FRAME_HASH}"
    beacon = {"round": ROUND, "randomness": RANDOMNESS, "signature": SIGNATURE}
    return seed, [
        {
            "kind": "commitment",
            "at": t["committed"],
            "draw": "D",
            "frame_hash": FRAME_HASH,
            "seed_source": {
                "source": "dice+drand",
                "ceremony_at": t["start"],
                "digits_until": t["until"],
                "witnesses": WITNESSES,
                "round": ROUND,
                "round_time": ROUND_AT,
            },
        },
        {"kind": "dice", "at": t["fixed"], "draw": "D", "digits": DIGITS},
        {"kind": "seed", "at": t["seeded"], "draw": "D", "seed": seed, "beacon": beacon},
    ]


def _failed_checks(seed: str, entries: list[dict[str, Any]], capsys: Any) -> list[str]:
    verifier = load_verifier()
    report = verifier.Report()
    verifier.check_ceremony(report, seed, entries)
    lines: list[str] = capsys.readouterr().out.splitlines()
    assert report.ok == (not any(line.startswith("✗") for line in lines))
    return [line for line in lines if line.startswith("✗")]


def test_an_honest_ceremony_passes_every_timing_check(capsys: Any) -> None:
    assert _failed_checks(*_dice_story(), capsys) == []
    assert _failed_checks(*_dice_drand_story(), capsys) == []


@pytest.mark.parametrize(
    ("story", "why"),
    [
        (lambda: _dice_story(seeded="2024-06-03T01:59:59Z"), "骰子点数在公告的时间内确认"),
        (lambda: _dice_story(seeded="2024-06-03T04:00:01Z"), "骰子点数在公告的时间内确认"),
        (lambda: _dice_story(committed="2024-06-03T02:00:01Z"), "承诺早于公告的摇号时间"),
        (lambda: _dice_drand_story(fixed="2023-09-15T11:00:04Z"), "骰子点数在公告的时间内确认"),
        (lambda: _dice_drand_story(committed="2023-09-15T11:00:03Z"), "承诺早于公告的摇号时间"),
        (lambda: _dice_drand_story(seeded="2023-09-15T11:00:02Z"), "drand 轮次晚于承诺"),
    ],
)
def test_a_ceremony_out_of_its_announced_times_fails(story: Any, why: str, capsys: Any) -> None:
    failed = _failed_checks(*story(), capsys)
    assert any(why in line for line in failed), failed


def test_a_postponement_after_the_announced_time_fails(capsys: Any) -> None:
    seed, entries = _dice_story(seeded="2024-06-03T05:10:00Z")
    late = {
        "kind": "reschedule",
        "at": "2024-06-03T02:30:00Z",  # half an hour after the announced start
        "draw": "D",
        "ceremony_at": "2024-06-03T05:00:00Z",
        "digits_until": "2024-06-03T07:00:00Z",
        "reason": "见证人未到",
    }
    failed = _failed_checks(seed, [entries[0], late, entries[1]], capsys)
    assert any("改期均在原定时间之前" in line for line in failed), failed
    on_time = late | {"at": "2024-06-03T01:30:00Z"}
    assert _failed_checks(seed, [entries[0], on_time, entries[1]], capsys) == []


def test_digits_logged_other_than_those_in_the_seed_fail(capsys: Any) -> None:
    seed, entries = _dice_drand_story()
    entries[1]["digits"] = "9" * 20
    failed = _failed_checks(seed, entries, capsys)
    assert any("日志中的骰子点数即种子中的点数" in line for line in failed), failed


def test_a_forged_beacon_signature_fails(capsys: Any) -> None:
    # a signature that is not quicknet's, with "randomness" made to match its hash
    forged = SIGNATURE[:-2] + ("00" if SIGNATURE[-2:] != "00" else "01")
    randomness = hashlib.sha256(bytes.fromhex(forged)).hexdigest()
    seed = f"dice+drand/{DIGITS}:quicknet:{ROUND}:{randomness}/{FRAME_HASH}"
    _, entries = _dice_drand_story()
    entries[2] |= {
        "seed": seed,
        "beacon": {"round": ROUND, "randomness": randomness, "signature": forged},
    }
    failed = _failed_checks(seed, entries, capsys)
    assert any("BLS 签名有效" in line for line in failed), failed
    assert not any("随机数是其签名的哈希" in line for line in failed), failed
