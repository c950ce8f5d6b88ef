"""The draw ceremony over the API: freeze → seed → result, on the demo pool."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import consistent_sampler
import pytest
from fastapi.testclient import TestClient

from app.draws import beacon as drand
from app.draws import templates
from tests.factories import ceremony_time, log_kinds, reveal_dice, set_ceremony_clock

DIGITS = "38274619283746529183"
WITNESSES = ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]


def dice() -> dict[str, Any]:
    """A freeze body announcing a dice ceremony for now."""
    return {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}


def _plan(client: TestClient, key: str) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/from-template/{key}")
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _freeze(client: TestClient, plan_id: int, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = client.post(f"/api/v1/plans/{plan_id}/freeze", json=body or dice())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def _reveal(client: TestClient, public_id: str, digits: str = DIGITS) -> Any:
    return reveal_dice(client, public_id, digits, WITNESSES)


@pytest.mark.parametrize("key", sorted(templates.TEMPLATES))
def test_every_template_draws_on_the_demo_pool(demo: TestClient, key: str) -> None:
    plan = _plan(demo, key)
    frozen = _freeze(demo, plan["id"])
    assert frozen["status"] == "frozen"
    assert frozen["seed"] is None
    response = _reveal(demo, frozen["public_id"])
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "done", done["failure"]
    assert done["seed"] == f"dice/{DIGITS}/{frozen['frame_hash']}"
    spec = templates.TEMPLATES[key].spec
    by_id = {s["id"]: s for s in done["result"]["strata"]}
    for stratum in spec.strata:
        if stratum.count is not None:
            assert len(by_id[stratum.id]["selected"]) == stratum.count
    if spec.inspectors is not None:
        assignments = done["result"]["assignments"]
        assert len(assignments) == sum(len(s["selected"]) for s in done["result"]["strata"])
        assert all(len(a["inspectors"]) == spec.inspectors.team_size for a in assignments)
    if spec.cross is not None:
        pairs = done["result"]["pairs"]
        homes = {t.key: t.home for t in spec.cross.teams}
        from app import reference as ref

        assert all(ref.COUNTY_BY_NAME[p["target"]].code != homes[p["team"]] for p in pairs)
    assert log_kinds(demo, frozen["public_id"]) == ["commitment", "seed", "result"]


def test_bundle_reverifies_independently(demo: TestClient) -> None:
    plan = _plan(demo, "2024-hazchem")
    frozen = _freeze(demo, plan["id"])
    _reveal(demo, frozen["public_id"])
    bundle = demo.get(f"/api/v1/draws/{frozen['public_id']}/bundle").json()
    frame, seed, result = bundle["frame"], bundle["seed"], bundle["result"]
    canonical = json.dumps(frame, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == bundle["frame_hash"]
    assert seed.endswith("/" + bundle["frame_hash"])
    # every count stratum: the auditor's independent tool gives the same units
    for stratum, chosen in zip(frame["strata"], result["strata"], strict=True):
        if "count" not in stratum:
            continue
        ids = [u["key"] for u in stratum["units"]]
        expected = list(
            consistent_sampler.sampler(ids, seed=seed, take=stratum["count"], output="id")
        )
        assert [u["key"] for u in chosen["selected"]] == expected
    kinds = [e["entry"]["kind"] for e in bundle["log"]["entries"]]
    assert kinds == ["commitment", "seed", "result"]
    commitment = bundle["log"]["entries"][0]["entry"]
    assert commitment["frame_hash"] == bundle["frame_hash"]
    assert bundle["log"]["entries"][2]["entry"]["result_hash"] == bundle["result_hash"]
    for item in bundle["log"]["entries"]:
        assert (
            base64.b64decode(item["entry_b64"])
            == json.dumps(
                item["entry"], ensure_ascii=False, sort_keys=True, separators=(",", ":")
            ).encode()
        )


def test_infeasible_quota_is_refused_with_counts(demo: TestClient) -> None:
    body = {
        "title": "松木经开区危化生产企业加大抽查",
        "year": 2025,
        "planned_month": "2025-07",
        "spec": {
            "strata": [
                {
                    "id": "songmu",
                    "label": "松木经开区危险化学品生产企业",
                    "filter": {"subtype": ["hazchem_producer"], "county_in": ["松木经开区"]},
                    "count": 500,
                }
            ]
        },
    }
    plan = demo.post("/api/v1/plans", json=body).json()
    size_before = demo.get("/api/v1/log/entries").json()["tree_size"]
    response = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=dice())
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "quota_infeasible"
    assert "松木经开区危险化学品生产企业" in problem["detail"]
    assert "计划抽取 500 家" in problem["detail"]
    assert "符合条件" in problem["detail"]
    assert demo.get("/api/v1/draws").json()["total"] == 0
    assert demo.get("/api/v1/log/entries").json()["tree_size"] == size_before


def test_reveal_is_idempotent_and_never_redone(demo: TestClient) -> None:
    frozen = _freeze(demo, _plan(demo, "2025-hazchem")["id"])
    first = _reveal(demo, frozen["public_id"]).json()
    again = _reveal(demo, frozen["public_id"])
    assert again.status_code == 200
    assert again.json()["result"] == first["result"]
    other = _reveal(demo, frozen["public_id"], digits="11111111112222222222")
    assert other.status_code == 409
    assert other.json()["code"] == "already_seeded"
    assert log_kinds(demo, frozen["public_id"]) == ["commitment", "seed", "result"]


def test_dice_needs_twenty_digits_and_witnesses(demo: TestClient) -> None:
    frozen = _freeze(demo, _plan(demo, "2025-training")["id"])
    short = reveal_dice(demo, frozen["public_id"], "123456", WITNESSES)
    assert short.status_code == 422
    alone = demo.post(
        f"/api/v1/draws/{frozen['public_id']}/seed", json={"digits": DIGITS, "witnesses": ["一人"]}
    )
    assert alone.status_code == 422
    assert demo.get(f"/api/v1/draws/{frozen['public_id']}").json()["status"] == "frozen"


def test_annulment_is_public_and_the_replacement_names_it(demo: TestClient) -> None:
    plan = _plan(demo, "2025-training")
    frozen = _freeze(demo, plan["id"])
    _reveal(demo, frozen["public_id"])
    premature = demo.post(
        f"/api/v1/plans/{plan['id']}/freeze", json=dice() | {"replaces": frozen["public_id"]}
    )
    assert premature.status_code == 409
    annulled = demo.post(
        f"/api/v1/draws/{frozen['public_id']}/annul",
        json={
            "reason": "抽中的培训机构已于上月停业，经局务会研究撤销本次抽查",
            "decided_by": "局务会",
        },
    )
    assert annulled.status_code == 200, annulled.text
    assert annulled.json()["status"] == "annulled"
    assert annulled.json()["result"] is not None  # the result stays readable
    # the same plan again: refused as a quiet second try, accepted as the named replacement
    quiet = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=dice())
    assert quiet.status_code == 409
    assert quiet.json()["code"] == "plan_already_drawn"
    assert frozen["public_id"] in quiet.json()["detail"]
    # the same frame under a new plan of the same template: a second try as well
    twin = _plan(demo, "2025-training")
    copied = demo.post(f"/api/v1/plans/{twin['id']}/freeze", json=dice())
    assert copied.status_code == 409
    assert copied.json()["code"] == "frame_already_committed"
    replacement = _freeze(demo, plan["id"], dice() | {"replaces": frozen["public_id"]})
    assert replacement["replaces"] == frozen["public_id"]
    assert log_kinds(demo, frozen["public_id"]) == ["commitment", "seed", "result", "annulment"]
    index = replacement["log_entries"][0]
    entry = demo.get(f"/api/v1/log/entries/{index}").json()["entry"]
    assert entry["replaces"] == frozen["public_id"]
    # another plan may not take over the annulled draw
    other = _plan(demo, "2024-hazchem")
    second = demo.post(
        f"/api/v1/plans/{other['id']}/freeze", json=dice() | {"replaces": frozen["public_id"]}
    )
    assert second.status_code == 409 and second.json()["code"] == "replaces_other_plan"
    # nor may the plan replace it twice: the chain's head is now the replacement
    twice = demo.post(
        f"/api/v1/plans/{plan['id']}/freeze", json=dice() | {"replaces": frozen["public_id"]}
    )
    assert twice.status_code == 409 and twice.json()["code"] == "replaces_not_latest"
    assert replacement["public_id"] in twice.json()["detail"]


def test_fairness_gives_exact_probabilities(demo: TestClient) -> None:
    frozen = _freeze(demo, _plan(demo, "2024-hazchem")["id"])
    fairness = demo.get(f"/api/v1/draws/{frozen['public_id']}/fairness").json()
    songmu = next(s for s in fairness["strata"] if s["id"] == "hazchem-songmu")
    n = len(songmu["units"])
    assert all(u["probability"] == str(_fraction(3, n)) for u in songmu["units"])


def _fraction(k: int, n: int) -> str:
    from fractions import Fraction

    f = Fraction(k, n)
    return f"{f.numerator}/{f.denominator}"


RECORDED_ROUND = 657413
RECORDED_SIGNATURE = "b713718a38ae728dfd477991af2822e08d2f305e47718cef9f7848ce4050e7be41076862b98fad56e91a6b85b89cd97b"
RECORDED_RANDOMNESS = "fc1873a13f3545aeade8401532ef5519920652eee6b0d2b19ca12643b87b3587"


def test_drand_seed_from_a_recorded_beacon(
    demo: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Freeze "two minutes before" the recorded round, so that it is the round announced.
    due = datetime.fromtimestamp(drand.QUICKNET_GENESIS + (RECORDED_ROUND - 1) * 3, UTC)
    set_ceremony_clock(monkeypatch, lambda: due - timedelta(seconds=120))
    frozen = _freeze(
        demo,
        _plan(demo, "2025-training")["id"],
        {"seed": {"source": "drand", "delay_seconds": 120}},
    )
    assert frozen["announcement"]["round"] == RECORDED_ROUND
    early = demo.post(
        f"/api/v1/draws/{frozen['public_id']}/seed",
        json={
            "round": RECORDED_ROUND,
            "randomness": RECORDED_RANDOMNESS,
            "signature": RECORDED_SIGNATURE,
        },
    )
    assert early.status_code == 409 and early.json()["code"] == "beacon_not_yet"
    set_ceremony_clock(monkeypatch, lambda: due + timedelta(seconds=5))
    forged = demo.post(
        f"/api/v1/draws/{frozen['public_id']}/seed",
        json={"round": RECORDED_ROUND, "randomness": "0" * 64, "signature": RECORDED_SIGNATURE},
    )
    assert forged.status_code == 422
    assert forged.json()["code"] == "beacon_invalid"
    response = demo.post(
        f"/api/v1/draws/{frozen['public_id']}/seed",
        json={
            "round": RECORDED_ROUND,
            "randomness": RECORDED_RANDOMNESS,
            "signature": RECORDED_SIGNATURE,
        },
    )
    assert response.status_code == 200, response.text
    done = response.json()
    assert (
        done["seed"]
        == f"drand/quicknet:{RECORDED_ROUND}:{RECORDED_RANDOMNESS}/{frozen['frame_hash']}"
    )
    assert done["status"] == "done"


def test_a_ceremony_before_the_commitment_is_refused(demo: TestClient) -> None:
    plan = _plan(demo, "2025-training")
    past = {
        "seed": {
            "source": "dice",
            "ceremony_at": "2025-05-06T09:30:00+08:00",
            "witnesses": WITNESSES,
        }
    }
    response = demo.post(f"/api/v1/plans/{plan['id']}/freeze", json=past)
    assert response.status_code == 422
    assert response.json()["code"] == "ceremony_before_commitment"
    assert demo.get("/api/v1/draws").json()["total"] == 0
