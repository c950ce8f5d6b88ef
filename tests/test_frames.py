"""What goes into a frame: exclusions, coverage over a cycle, clusters,
conflicts and last inspectors — each counted in the provenance."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import ceremony_time, create_enterprise, create_inspector, reveal_dice, uscc

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


def dice() -> dict[str, Any]:
    """A freeze body announcing a dice ceremony for now."""
    return {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}


def _stations(client: TestClient, n: int, **overrides: Any) -> list[dict[str, Any]]:
    return [
        create_enterprise(client, uscc=uscc(serial=i + 1), name=f"测试加油站{i + 1}号", **overrides)
        for i in range(n)
    ]


def _plan(client: TestClient, stratum: dict[str, Any], **spec: Any) -> int:
    body = {
        "title": "测试计划",
        "year": 2025,
        "planned_month": "2025-06",
        "spec": {
            "strata": [
                {"id": "s", "label": "加油站", "filter": {"subtype": ["gas_station"]}} | stratum
            ]
        }
        | spec,
    }
    response = client.post("/api/v1/plans", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _freeze(client: TestClient, plan_id: int) -> Any:
    return client.post(f"/api/v1/plans/{plan_id}/freeze", json=dice())


def _inspect(client: TestClient, code: str, day: str) -> None:
    response = client.post(
        "/api/v1/inspections",
        json={"uscc": code, "inspected_on": day, "kind": "county", "source": "衡南县应急管理局"},
    )
    assert response.status_code == 201, response.text


def test_same_month_inspections_are_excluded_and_counted(client: TestClient) -> None:
    stations = _stations(client, 4)
    _inspect(client, stations[0]["uscc"], "2025-06-18")
    _inspect(client, stations[1]["uscc"], "2025-05-31")  # another month: stays eligible
    frozen = _freeze(client, _plan(client, {"count": 3}))
    assert frozen.status_code == 201, frozen.text
    (stratum,) = frozen.json()["provenance"]["strata"]
    assert (stratum["matched"], stratum["eligible"]) == (4, 3)
    assert stratum["excluded"] == {"inspected_in_month": 1}
    refused = _freeze(client, _plan(client, {"count": 4}))
    assert refused.status_code == 422
    assert "当月已有检查 1 家" in refused.json()["detail"]
    allowed = _freeze(client, _plan(client, {"count": 4}, exclusions={"inspected_in_month": False}))
    assert allowed.status_code == 201, allowed.text


def test_key_enforcement_units_stay_out_unless_asked(client: TestClient) -> None:
    _stations(client, 3)
    create_enterprise(client, uscc=uscc(serial=9), name="重点执法加油站", tags=["key_enforcement"])
    default = _freeze(client, _plan(client, {"count": 1}))
    assert default.json()["provenance"]["strata"][0]["excluded"] == {"key_enforcement": 1}
    keys = {
        u["key"]
        for u in client.get(f"/api/v1/draws/{default.json()['public_id']}/fairness").json()[
            "strata"
        ][0]["units"]
    }
    assert uscc(serial=9) not in keys


def test_coverage_prefers_the_not_yet_inspected_and_says_when_it_gives_way(
    client: TestClient,
) -> None:
    stations = _stations(client, 3)
    _inspect(client, stations[0]["uscc"], "2025-02-10")
    _inspect(client, stations[1]["uscc"], "2025-03-10")
    cycle = {"cycle_start": "2025-01-01"}
    applied = _freeze(client, _plan(client, {"count": 1}, exclusions=cycle)).json()
    stratum = applied["provenance"]["strata"][0]
    assert stratum["coverage"] == "applied"
    assert stratum["eligible"] == 1
    relaxed = _freeze(client, _plan(client, {"count": 2}, exclusions=cycle)).json()
    stratum = relaxed["provenance"]["strata"][0]
    assert stratum["coverage"] == "relaxed"
    assert stratum["eligible"] == 3


def test_highway_pairs_are_drawn_together(client: TestClient) -> None:
    for i, pair in enumerate(["pair-A", "pair-A", "pair-B", "pair-B", "pair-C", "pair-C"]):
        create_enterprise(
            client,
            uscc=uscc(serial=i + 1),
            name=f"服务区加油站{i}",
            tags=["highway_station"],
            pair_key=pair,
        )
    plan_id = _plan(client, {"count": 2, "cluster_by": "pair_key"})
    frozen = _freeze(client, plan_id).json()
    done = reveal_dice(client, frozen["public_id"], "12345678901234567890", WITNESSES).json()
    selected = [u["key"] for u in done["result"]["strata"][0]["selected"]]
    assert len(selected) == 2 and set(selected) <= {"pair-A", "pair-B", "pair-C"}
    bundle = client.get(f"/api/v1/draws/{frozen['public_id']}/bundle").json()
    members = {u["key"]: u["attrs"]["members"] for u in bundle["frame"]["strata"][0]["units"]}
    assert members["pair-A"] == sorted([uscc(serial=1), uscc(serial=2)])


def test_conflicts_and_last_inspectors_become_frame_conflicts(client: TestClient) -> None:
    station = _stations(client, 1)[0]
    inspectors = [
        create_inspector(client, cert_no=f"HN-T-{i:04d}", name=f"检查员{i}号") for i in range(6)
    ]
    client.post(
        "/api/v1/conflicts",
        json={
            "cert_no": inspectors[0]["cert_no"],
            "uscc": station["uscc"],
            "reason": "曾在该企业任职",
            "valid_from": "2024-01-01",
        },
    )
    rules = {"team_size": 2, "units": ["执法支队"]}
    first = _freeze(client, _plan(client, {"count": 1}, inspectors=rules)).json()
    bundle = client.get(f"/api/v1/draws/{first['public_id']}/bundle").json()
    assert bundle["frame"]["inspectors"]["conflicts"] == [[station["uscc"], "HN-T-0000"]]
    done = reveal_dice(client, first["public_id"], "12345678901234567890", WITNESSES).json()
    team = done["result"]["assignments"][0]["inspectors"]
    assert "HN-T-0000" not in team
    second = _freeze(
        client,
        _plan(client, {"count": 1}, inspectors=rules, exclusions={"inspected_in_month": False}),
    ).json()
    conflicts = client.get(f"/api/v1/draws/{second['public_id']}/bundle").json()["frame"][
        "inspectors"
    ]["conflicts"]
    assert sorted(c[1] for c in conflicts) == sorted(["HN-T-0000", *team])
    assert second["provenance"]["inspectors"]["conflicts_last_inspectors"] == 2


def test_expired_certificates_and_other_units_are_not_in_the_pool(client: TestClient) -> None:
    _stations(client, 1)
    create_inspector(client, cert_no="HN-T-0001", name="有效证件")
    create_inspector(client, cert_no="HN-T-0002", name="另一有效")
    create_inspector(client, cert_no="HN-T-0003", name="证件过期", cert_valid_to="2025-01-31")
    create_inspector(client, cert_no="HN-T-0004", name="外单位", unit="工贸科")
    frozen = _freeze(
        client, _plan(client, {"count": 1}, inspectors={"team_size": 2, "units": ["执法支队"]})
    ).json()
    pool = client.get(f"/api/v1/draws/{frozen['public_id']}/bundle").json()["frame"]["inspectors"][
        "pool"
    ]
    assert [p["key"] for p in pool] == ["HN-T-0001", "HN-T-0002"]


def test_a_unit_without_a_full_team_is_a_logged_failure(client: TestClient) -> None:
    station = _stations(client, 1)[0]
    for i in range(3):
        create_inspector(client, cert_no=f"HN-T-{i:04d}", name=f"检查员{i}号")
    for i in (0, 1):
        client.post(
            "/api/v1/conflicts",
            json={
                "cert_no": f"HN-T-{i:04d}",
                "uscc": station["uscc"],
                "reason": "近亲属在该企业任职",
                "valid_from": "2024-01-01",
            },
        )
    # The pool as a whole can staff a team, so the frame is committed; only the
    # draw finds that this unit, after recusals, cannot get two inspectors.
    frozen = _freeze(client, _plan(client, {"count": 1}, inspectors={"team_size": 2}))
    assert frozen.status_code == 201, frozen.text
    public_id = frozen.json()["public_id"]
    done = reveal_dice(client, public_id, "12345678901234567890", WITNESSES).json()
    assert done["status"] == "failed"
    assert station["uscc"] in done["failure"]["message"]
    kinds = [
        client.get(f"/api/v1/log/entries/{i}").json()["entry"]["kind"] for i in done["log_entries"]
    ]
    assert kinds == ["commitment", "seed", "failure"]


def test_concurrent_reveals_give_one_result(client: TestClient) -> None:
    _stations(client, 5)
    frozen = _freeze(client, _plan(client, {"count": 2})).json()
    body = {"digits": "98765432109876543210", "witnesses": WITNESSES}

    def reveal(_: int) -> Any:
        return reveal_dice(client, frozen["public_id"], body["digits"], body["witnesses"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(reveal, range(4)))
    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    assert len({str(r.json()["result"]) for r in responses}) == 1
    draw = client.get(f"/api/v1/draws/{frozen['public_id']}").json()
    kinds = [
        client.get(f"/api/v1/log/entries/{i}").json()["entry"]["kind"] for i in draw["log_entries"]
    ]
    assert kinds == ["commitment", "seed", "result"]
