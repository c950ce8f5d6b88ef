"""The enterprise directory over its REST API."""

from __future__ import annotations

from urllib.parse import quote

from fastapi.testclient import TestClient

from tests.factories import create_enterprise, enterprise_body, uscc


def test_create_read_and_find_by_code(client: TestClient) -> None:
    created = create_enterprise(client)
    assert created["county"] == "430422"
    assert created["county_name"] == "衡南县"
    assert created["sector"] == "hazchem"  # derived from the subtype
    assert created["status"] == "operating"
    assert created["version"] == 1
    read = client.get(f"/api/v1/enterprises/{created['id']}").json()
    assert read == created
    by_code = client.get(f"/api/v1/enterprises/by-uscc/{created['uscc'].lower()}")
    assert by_code.json()["id"] == created["id"]


def test_labels_are_accepted_for_codes(client: TestClient) -> None:
    created = create_enterprise(
        client, county="430473", subtype="危险化学品生产企业", status="在建", tags=["重大危险源"]
    )
    assert created["county_name"] == "松木经开区"
    assert created["subtype"] == "hazchem_producer"
    assert created["status"] == "construction"
    assert created["tags"] == ["major_hazard"]


def test_bad_check_character_is_a_problem_document(client: TestClient) -> None:
    good = uscc(serial=7)
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post("/api/v1/enterprises", json=enterprise_body(uscc=bad))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_input"
    assert problem["title"] == "输入数据不合规"
    (item,) = problem["errors"]
    assert item["loc"] == ["body", "uscc"]
    assert "校验" in item["message"]
    assert item["value"] == bad


def test_unknown_county_and_subtype_are_named(client: TestClient) -> None:
    response = client.post(
        "/api/v1/enterprises", json=enterprise_body(county="长沙县", subtype="rocket_factory")
    )
    assert response.status_code == 422
    messages = {tuple(e["loc"]): e["message"] for e in response.json()["errors"]}
    assert "长沙县" in messages[("body", "county")]
    assert "衡南县" in messages[("body", "county")]  # lists what is allowed
    assert "rocket_factory" in messages[("body", "subtype")]


def test_sector_must_match_subtype(client: TestClient) -> None:
    response = client.post(
        "/api/v1/enterprises", json=enterprise_body(sector="coal", subtype="gas_station")
    )
    assert response.status_code == 422
    assert "不属于" in response.json()["detail"]


def test_highway_station_needs_its_pair(client: TestClient) -> None:
    response = client.post("/api/v1/enterprises", json=enterprise_body(tags=["highway_station"]))
    assert response.status_code == 422
    assert "配对键" in response.json()["detail"]
    ok = create_enterprise(client, tags=["highway_station"], pair_key="pair-G4-hengshan")
    assert ok["pair_key"] == "pair-G4-hengshan"


def test_duplicate_code_is_refused(client: TestClient) -> None:
    create_enterprise(client)
    response = client.post("/api/v1/enterprises", json=enterprise_body(name="另一家公司"))
    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_uscc"


def test_missing_record_is_404_problem(client: TestClient) -> None:
    response = client.get("/api/v1/enterprises/999999")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get("/api/v1/no-such-route").json()["code"] == "not_found"


def test_update_keeps_history_with_actor(client: TestClient) -> None:
    created = create_enterprise(client)
    response = client.patch(
        f"/api/v1/enterprises/{created['id']}",
        json={"risk_grade": "D", "tags": ["major_hazard", "hazardous_process"], "version": 1},
        headers={"X-Actor": quote("王科长")},
    )
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["risk_grade"] == "D"
    assert updated["tags"] == ["hazardous_process", "major_hazard"]
    assert updated["version"] == 2
    history = client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update"]
    change = history[1]
    assert change["actor"] == "王科长（测试经办人员）"  # the person, and the key they used
    assert change["before"]["risk_grade"] == "B"
    assert change["after"]["risk_grade"] == "D"
    assert change["after"]["tags"] == ["hazardous_process", "major_hazard"]


def test_a_no_op_update_records_nothing(client: TestClient) -> None:
    created = create_enterprise(client)
    response = client.patch(f"/api/v1/enterprises/{created['id']}", json={"risk_grade": "B"})
    assert response.json()["version"] == 1
    assert len(client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]) == 1


def test_stale_version_is_refused(client: TestClient) -> None:
    created = create_enterprise(client)
    client.patch(f"/api/v1/enterprises/{created['id']}", json={"risk_grade": "C"})
    stale = client.patch(
        f"/api/v1/enterprises/{created['id']}", json={"risk_grade": "A", "version": 1}
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"
    assert client.get(f"/api/v1/enterprises/{created['id']}").json()["risk_grade"] == "C"


def test_update_validates_like_create(client: TestClient) -> None:
    created = create_enterprise(client)
    response = client.patch(
        f"/api/v1/enterprises/{created['id']}", json={"subtype": "coal_mine_local"}
    )
    # changing the subtype to another sector's without the sector is inconsistent
    assert response.status_code in (200, 422)
    if response.status_code == 200:
        assert response.json()["sector"] == "coal"
    unknown = client.patch(f"/api/v1/enterprises/{created['id']}", json={"colour": "red"})
    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["code"] == "extra_forbidden"


def test_retire_keeps_the_record_readable(client: TestClient) -> None:
    created = create_enterprise(client)
    response = client.post(
        f"/api/v1/enterprises/{created['id']}/retire", json={"reason": "企业已注销登记"}
    )
    assert response.status_code == 200
    assert response.json()["retired_reason"] == "企业已注销登记"
    assert client.get(f"/api/v1/enterprises/{created['id']}").status_code == 200
    assert client.get("/api/v1/enterprises").json()["total"] == 0
    assert client.get("/api/v1/enterprises?include_retired=true").json()["total"] == 1
    edit = client.patch(f"/api/v1/enterprises/{created['id']}", json={"risk_grade": "A"})
    assert edit.status_code == 409
    assert edit.json()["code"] == "enterprise_retired"
    again = client.post(f"/api/v1/enterprises/{created['id']}/retire", json={"reason": "重复操作"})
    assert again.status_code == 409
    restored = client.post(f"/api/v1/enterprises/{created['id']}/restore")
    assert restored.json()["retired_at"] is None
    actions = [
        h["action"]
        for h in client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]
    ]
    assert actions == ["create", "retire", "restore"]


def test_list_filters_and_pages(client: TestClient) -> None:
    for serial, county, subtype, tags in [
        (1, "衡南县", "gas_station", ["major_hazard"]),
        (2, "衡南县", "chemical", []),
        (3, "松木经开区", "hazchem_producer", ["major_hazard", "hazardous_process"]),
        (4, "耒阳市", "gas_station", []),
        (5, "耒阳市", "gas_station", []),
    ]:
        create_enterprise(
            client,
            uscc=uscc(serial=serial),
            name=f"示例企业{serial}号",
            county=county,
            subtype=subtype,
            tags=tags,
        )

    def total(query: str) -> int:
        response = client.get(f"/api/v1/enterprises?{query}")
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert total("") == 5
    assert total("county=衡南县") == 2
    assert total("county=430481&county=430473") == 3
    assert total("subtype=gas_station") == 3
    assert total("sector=hazchem") == 5
    assert total("tag=major_hazard") == 2
    assert total("tag=major_hazard&tag=hazardous_process") == 1
    assert total("q=3号") == 1
    assert total(f"q={uscc(serial=4)[-6:]}") == 1
    page = client.get("/api/v1/enterprises?page=2&page_size=2").json()
    assert page["total"] == 5
    assert [e["name"] for e in page["items"]] == ["示例企业3号", "示例企业4号"]
    assert client.get("/api/v1/enterprises?page_size=501").status_code == 422
    assert client.get("/api/v1/enterprises?colour=red").status_code == 422


def test_reference_lists_the_vocabularies(client: TestClient) -> None:
    data = client.get("/api/v1/reference").json()
    assert len(data["counties"]) == 14
    assert {"code": "gas_station", "label": "加油站", "sector": "hazchem"} in data["subtypes"]
