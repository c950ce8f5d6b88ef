"""The ceremony is what was announced, and a plan gets no second chance.

Each test makes the move a bureau insider would make to get a second draw or a
chosen seed, and checks that it is refused, that nothing was logged for it,
and that what is allowed leaves a public trace.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import pytest

from app.draws import beacon as quicknet
from tests.factories import ApiClient, ceremony_time, log_kinds, set_ceremony_clock

WITNESSES = ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]
DIGITS = "38274619283746529183"
OTHER_DIGITS = "11112222333344445555"
ANNUL = {"reason": "仪式组织有误，经局务会研究公开撤销", "decided_by": "局务会"}


def _plan(client: ApiClient, key: str = "2025-training") -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/from-template/{key}")
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _dice(hours: float = 0, **extra: Any) -> dict[str, Any]:
    seed = {"source": "dice", "ceremony_at": ceremony_time(hours), "witnesses": WITNESSES}
    return {"seed": seed | extra}


def _freeze(client: ApiClient, plan_id: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/{plan_id}/freeze", json=body or _dice())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _witness(client: ApiClient, name: str = WITNESSES[0]) -> dict[str, str]:
    return client.as_role("witness") | {"X-Actor": quote(name)}


def _enter(client: ApiClient, public_id: str, digits: str = DIGITS, **extra: Any) -> Any:
    body = {"digits": digits, "witnesses": WITNESSES} | extra
    return client.post(f"/api/v1/draws/{public_id}/seed", json=body)


def _confirm(
    client: ApiClient, public_id: str, digits: str = DIGITS, name: str = WITNESSES[0]
) -> Any:
    return client.post(
        f"/api/v1/draws/{public_id}/seed/confirm",
        json={"digits": digits},
        headers=_witness(client, name),
    )


def _log_size(client: ApiClient) -> int:
    size: int = client.get("/api/v1/log/entries").json()["tree_size"]
    return size


def _entry(client: ApiClient, index: int) -> dict[str, Any]:
    entry: dict[str, Any] = client.get(f"/api/v1/log/entries/{index}").json()["entry"]
    return entry


# -- one live draw per plan --------------------------------------------------------


def test_editing_a_plan_and_freezing_again_gives_no_second_draw(demo: ApiClient) -> None:
    plan = _plan(demo)
    first = _freeze(demo, plan["id"])
    spec = plan["spec"]
    spec["strata"][0]["count"] += 1
    edited = demo.patch(f"/api/v1/plans/{plan['id']}", json={"spec": spec})
    assert edited.status_code == 409
    assert edited.json()["code"] == "plan_has_live_draw"
    assert first["public_id"] in edited.json()["detail"]
    assert demo.get(f"/api/v1/plans/{plan['id']}").json()["version"] == plan["version"]
    size = _log_size(demo)
    again = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=_dice())
    assert again.status_code == 409 and again.json()["code"] == "plan_already_drawn"
    named = demo.post(
        f"/api/v1/plans/{plan['id']}/freeze", json=_dice() | {"replaces": first["public_id"]}
    )
    assert named.status_code == 409 and named.json()["code"] == "draw_state"
    assert _log_size(demo) == size

    # seeded and done: still the plan's one draw
    assert _enter(demo, first["public_id"]).status_code == 200
    assert _confirm(demo, first["public_id"]).json()["status"] == "done"
    again = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=_dice())
    assert again.status_code == 409 and again.json()["code"] == "plan_already_drawn"

    # annulled in public: now the plan may change and be drawn again, naming the old draw
    assert demo.post(f"/api/v1/draws/{first['public_id']}/annul", json=ANNUL).status_code == 200
    assert demo.patch(f"/api/v1/plans/{plan['id']}", json={"spec": spec}).status_code == 200
    second = _freeze(demo, plan["id"], _dice() | {"replaces": first["public_id"]})
    assert second["replaces"] == first["public_id"]
    assert (
        demo.get(f"/api/v1/draws/{first['public_id']}").json()["replaced_by"] == second["public_id"]
    )
    assert demo.patch(f"/api/v1/plans/{plan['id']}", json={"title": "再改"}).status_code == 409


def test_a_replacement_belongs_to_the_same_plan(demo: ApiClient) -> None:
    mine, other = _plan(demo), _plan(demo, "2024-hazchem")
    theirs = _freeze(demo, other["id"])
    demo.post(f"/api/v1/draws/{theirs['public_id']}/annul", json=ANNUL)
    stolen = demo.post(
        f"/api/v1/plans/{mine['id']}/freeze", json=_dice() | {"replaces": theirs["public_id"]}
    )
    assert stolen.status_code == 409 and stolen.json()["code"] == "replaces_other_plan"
    assert demo.get("/api/v1/draws").json()["total"] == 1


def test_two_freezes_of_one_plan_racing_give_one_draw(demo: ApiClient) -> None:
    plan = _plan(demo)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(
            pool.map(
                lambda _: demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=_dice()), range(4)
            )
        )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201, 409, 409, 409], [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"plan_already_drawn"}
    assert demo.get("/api/v1/draws").json()["total"] == 1
    assert _log_size(demo) == 1


# -- the announced time -------------------------------------------------------------


@pytest.mark.parametrize("hours", [1, 24 * 365 * 4])
def test_digits_before_the_announced_time_are_refused(demo: ApiClient, hours: int) -> None:
    frozen = _freeze(demo, _plan(demo)["id"], _dice(hours))
    early = _enter(demo, frozen["public_id"])
    assert early.status_code == 409
    assert early.json()["code"] == "outside_ceremony_window"
    assert "北京时间" in early.json()["detail"] and "尚未开始" in early.json()["detail"]
    assert log_kinds(demo, frozen["public_id"]) == ["commitment"]
    history = demo.get(f"/api/v1/draws/{frozen['public_id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["freeze"]


def test_digits_after_the_window_are_refused(
    demo: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = _freeze(demo, _plan(demo)["id"])
    assert _enter(demo, frozen["public_id"]).status_code == 200
    later = datetime.now(UTC) + timedelta(hours=2, minutes=1)
    set_ceremony_clock(monkeypatch, lambda: later)
    late = _confirm(demo, frozen["public_id"])
    assert late.status_code == 409 and late.json()["code"] == "outside_ceremony_window"
    assert "已经结束" in late.json()["detail"]
    assert log_kinds(demo, frozen["public_id"]) == ["commitment"]


def test_the_window_is_a_setting(demo: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    demo.app.state.settings.ceremony_window_minutes = 30  # type: ignore[attr-defined]
    frozen = _freeze(demo, _plan(demo)["id"])
    later = datetime.now(UTC) + timedelta(minutes=31)
    set_ceremony_clock(monkeypatch, lambda: later)
    assert _enter(demo, frozen["public_id"]).json()["code"] == "outside_ceremony_window"


def test_a_time_without_an_offset_is_refused_not_a_server_error(demo: ApiClient) -> None:
    plan = _plan(demo)
    naive = {
        "seed": {"source": "dice", "ceremony_at": "2026-12-02T10:00:00", "witnesses": WITNESSES}
    }
    response = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=naive)
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "timezone_required"
    assert "时区" in response.json()["detail"]
    for body in (naive["seed"] | {"source": "dice+drand"},):
        answer = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json={"seed": body})
        assert answer.status_code == 422
    assert _log_size(demo) == 0


def test_a_postponement_is_public_and_only_before_the_time(demo: ApiClient) -> None:
    frozen = _freeze(demo, _plan(demo)["id"], _dice(hours=1))
    public_id = frozen["public_id"]
    new_time = ceremony_time(hours=0)  # the ceremony is moved to now
    moved = demo.post(
        f"/api/v1/draws/{public_id}/reschedule",
        json={"ceremony_at": new_time, "reason": "见证人临时出差，仪式提前"},
    )
    assert moved.status_code == 200, moved.text
    assert log_kinds(demo, public_id) == ["commitment", "reschedule"]
    entry = _entry(demo, moved.json()["log_entries"][1])
    assert entry["reason"] == "见证人临时出差，仪式提前"
    assert entry["previous"] == frozen["announcement"]["ceremony_at"]
    assert entry["ceremony_at"] == moved.json()["announcement"]["ceremony_at"]
    # the announced time has come: no further postponement, and the digits count
    too_late = demo.post(
        f"/api/v1/draws/{public_id}/reschedule",
        json={"ceremony_at": ceremony_time(hours=3), "reason": "再次改期试试"},
    )
    assert too_late.status_code == 409 and too_late.json()["code"] == "reschedule_too_late"
    assert _enter(demo, public_id).status_code == 200
    assert _confirm(demo, public_id).json()["status"] == "done"
    assert "改期" in demo.get("/log").text


# -- the announced witnesses ----------------------------------------------------------


def test_only_announced_witnesses_enter_and_confirm(demo: ApiClient) -> None:
    public_id = _freeze(demo, _plan(demo)["id"])["public_id"]
    stranger = _enter(demo, public_id, witnesses=[WITNESSES[0], "路人甲"])
    assert stranger.status_code == 422 and stranger.json()["code"] == "witness_not_announced"
    assert "路人甲" in stranger.json()["detail"]
    assert _enter(demo, public_id).status_code == 200
    for name in ("赵六", "", WITNESSES[0] + "x"):
        impostor = _confirm(demo, public_id, name=name)
        assert impostor.status_code == 403, name
        assert impostor.json()["code"] == "witness_not_announced"
    assert log_kinds(demo, public_id) == ["commitment"]
    done = _confirm(demo, public_id, name=WITNESSES[1])
    assert done.json()["status"] == "done", done.text
    seed_entry = _entry(demo, done.json()["log_entries"][1])
    assert seed_entry["kind"] == "seed"
    assert seed_entry["confirmed_by"] == WITNESSES[1]
    assert f"由见证人 {WITNESSES[1]} 确认" in demo.get(f"/draws/{public_id}").text


def test_the_witnesses_present_are_those_who_may_confirm(demo: ApiClient) -> None:
    three = [*WITNESSES, "张律师（衡阳市律师协会）"]
    body = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": three}}
    public_id = _freeze(demo, _plan(demo)["id"], body)["public_id"]
    assert _enter(demo, public_id, witnesses=WITNESSES).status_code == 200
    absent = _confirm(demo, public_id, name=three[2])
    assert absent.status_code == 403 and absent.json()["code"] == "witness_not_announced"


# -- digits are not silently replaced ------------------------------------------------


def test_other_digits_need_a_withdrawal_with_a_reason(demo: ApiClient) -> None:
    public_id = _freeze(demo, _plan(demo)["id"])["public_id"]
    assert _enter(demo, public_id, OTHER_DIGITS).status_code == 200
    assert _enter(demo, public_id, OTHER_DIGITS).status_code == 200  # a retry is harmless
    replaced = _enter(demo, public_id, DIGITS)
    assert replaced.status_code == 409 and replaced.json()["code"] == "digits_already_entered"
    # the witness still confirms against the first entry
    assert _confirm(demo, public_id, DIGITS).json()["code"] == "seed_mismatch"
    reasonless = demo.post(f"/api/v1/draws/{public_id}/seed/withdraw", json={})
    assert reasonless.status_code == 422
    withdrawn = demo.post(
        f"/api/v1/draws/{public_id}/seed/withdraw", json={"reason": "录入时漏掉一位点数"}
    )
    assert withdrawn.status_code == 200 and withdrawn.json()["awaiting_witness"] is False
    nothing = demo.post(f"/api/v1/draws/{public_id}/seed/withdraw", json={"reason": "再撤一次"})
    assert nothing.status_code == 409 and nothing.json()["code"] == "no_seed_entry"
    assert _enter(demo, public_id, DIGITS).status_code == 200
    done = _confirm(demo, public_id, DIGITS).json()
    assert done["status"] == "done"
    history = demo.get(f"/api/v1/draws/{public_id}/history").json()["items"]
    assert [h["action"] for h in history] == [
        "freeze",
        "seed_entered",
        "seed_withdrawn",
        "seed_entered",
        "seed_confirmed",
    ]
    assert history[2]["after"]["reason"] == "录入时漏掉一位点数"
    seed_entry = _entry(demo, done["log_entries"][1])
    assert (seed_entry["entries"], seed_entry["withdrawals"]) == (2, 1)
    assert "骰子点数录入 2 次，撤回 1 次" in demo.get(f"/draws/{public_id}").text
    gone = demo.post(f"/api/v1/draws/{public_id}/seed/withdraw", json={"reason": "结果不理想"})
    assert gone.status_code == 409


def test_withdrawal_racing_a_confirmation_never_both_succeed(demo: ApiClient) -> None:
    for key in ("2025-training", "2024-hazchem", "2025-hazchem", "2024-coal"):
        public_id = _freeze(demo, _plan(demo, key)["id"])["public_id"]
        assert _enter(demo, public_id).status_code == 200
        steps: list[Callable[[], Any]] = [
            partial(_confirm, demo, public_id),
            partial(
                demo.post,
                f"/api/v1/draws/{public_id}/seed/withdraw",
                json={"reason": "与确认同时撤回"},
            ),
        ]
        with ThreadPoolExecutor(max_workers=2) as pool:
            confirmed, withdrawn = [f.result() for f in [pool.submit(s) for s in steps]]
        assert sorted([confirmed.status_code, withdrawn.status_code]) == [200, 409], (
            confirmed.text,
            withdrawn.text,
        )
        draw = demo.get(f"/api/v1/draws/{public_id}").json()
        actions = [
            h["action"] for h in demo.get(f"/api/v1/draws/{public_id}/history").json()["items"]
        ]
        if confirmed.status_code == 200:
            assert draw["status"] == "done" and "seed_withdrawn" not in actions
            assert withdrawn.json()["code"] == "already_seeded"
        else:
            assert draw["status"] == "frozen" and "seed_confirmed" not in actions
            assert confirmed.json()["code"] == "no_seed_entry"
            assert log_kinds(demo, public_id) == ["commitment"]
            demo.post(f"/api/v1/draws/{public_id}/annul", json=ANNUL)


# -- dice+drand ------------------------------------------------------------------------

RECORDED_ROUND = 657413
RECORDED_BEACON = {
    "round": RECORDED_ROUND,
    "randomness": "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587",
    "signature": "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b",
}


class Clock:
    """The ceremony's clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_dice_then_drand_nobody_can_steer(demo: ApiClient, monkeypatch: pytest.MonkeyPatch) -> None:
    round_time = quicknet.round_time(RECORDED_ROUND)
    ceremony = round_time - timedelta(minutes=30)
    clock = Clock(ceremony - timedelta(minutes=10))
    set_ceremony_clock(monkeypatch, clock)
    body = {
        "seed": {
            "source": "dice+drand",
            "ceremony_at": ceremony.isoformat(),
            "witnesses": WITNESSES,
            "round_delay_seconds": 1800,
        }
    }
    frozen = _freeze(demo, _plan(demo)["id"], body)
    public_id = frozen["public_id"]
    assert frozen["announcement"]["round"] == RECORDED_ROUND
    commitment = _entry(demo, frozen["log_entries"][0])
    assert commitment["seed_source"]["round"] == RECORDED_ROUND
    assert commitment["seed_source"]["ceremony_at"] == frozen["announcement"]["ceremony_at"]

    # no beacon before the digits are fixed, even a genuine one
    clock.now = ceremony + timedelta(minutes=1)
    early = demo.post(f"/api/v1/draws/{public_id}/seed", json=RECORDED_BEACON)
    assert early.status_code == 409
    assert _enter(demo, public_id).status_code == 200
    fixed = _confirm(demo, public_id)
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["seed"] is None and fixed.json()["awaiting_beacon"] is True
    assert log_kinds(demo, public_id) == ["commitment", "dice"]
    dice = _entry(demo, fixed.json()["log_entries"][1])
    assert dice["digits"] == DIGITS and dice["confirmed_by"] == WITNESSES[0]
    # the digits are fixed: no other digits, no withdrawal
    assert _enter(demo, public_id, OTHER_DIGITS).json()["code"] == "already_seeded"
    withdraw = demo.post(f"/api/v1/draws/{public_id}/seed/withdraw", json={"reason": "想重来一次"})
    assert withdraw.status_code == 409

    # the round is not out yet: its beacon is refused, whoever holds it
    not_yet = demo.post(f"/api/v1/draws/{public_id}/seed", json=RECORDED_BEACON)
    assert not_yet.status_code == 409 and not_yet.json()["code"] == "beacon_not_yet"
    clock.now = round_time + timedelta(seconds=3)
    forged = demo.post(
        f"/api/v1/draws/{public_id}/seed", json=RECORDED_BEACON | {"randomness": "0" * 64}
    )
    assert forged.status_code == 422 and forged.json()["code"] == "beacon_invalid"
    done = demo.post(f"/api/v1/draws/{public_id}/seed", json=RECORDED_BEACON)
    assert done.status_code == 200, done.text
    value = f"{DIGITS}:quicknet:{RECORDED_ROUND}:{RECORDED_BEACON['randomness']}"
    assert done.json()["seed"] == f"dice+drand/{value}/{frozen['frame_hash']}"
    assert done.json()["status"] == "done"
    assert log_kinds(demo, public_id) == ["commitment", "dice", "seed", "result"]


def test_dice_of_dice_drand_after_the_round_time_are_refused(
    demo: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_time = quicknet.round_time(RECORDED_ROUND)
    ceremony = round_time - timedelta(minutes=10)
    clock = Clock(ceremony)
    set_ceremony_clock(monkeypatch, clock)
    body = {
        "seed": {
            "source": "dice+drand",
            "ceremony_at": ceremony.isoformat(),
            "witnesses": WITNESSES,
            "round_delay_seconds": 600,
        }
    }
    public_id = _freeze(demo, _plan(demo)["id"], body)["public_id"]
    assert _enter(demo, public_id).status_code == 200
    clock.now = round_time  # the beacon may be out: fixing digits now could steer the seed
    late = _confirm(demo, public_id)
    assert late.status_code == 409 and late.json()["code"] == "outside_ceremony_window"
    assert log_kinds(demo, public_id) == ["commitment"]


def test_dice_cannot_be_entered_for_a_drand_draw(demo: ApiClient) -> None:
    public_id = _freeze(demo, _plan(demo)["id"], {"seed": {"source": "drand"}})["public_id"]
    refused = _enter(demo, public_id)
    assert refused.status_code == 409 and refused.json()["code"] == "no_dice_ceremony"


def test_a_witness_may_confirm_by_name_alone_but_not_by_another_s(demo: ApiClient) -> None:
    public_id = _freeze(demo, _plan(demo)["id"])["public_id"]
    assert _enter(demo, public_id).status_code == 200
    assert _confirm(demo, public_id, name="公证处").status_code == 403  # a role is no name
    assert _confirm(demo, public_id, name="李公").status_code == 403
    done = _confirm(demo, public_id, name="李公证")
    assert done.json()["status"] == "done", done.text
    assert _entry(demo, done.json()["log_entries"][1])["confirmed_by"] == WITNESSES[1]
