"""The inspector directory, conflicts of interest and inspection history."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import create_enterprise, create_inspector, inspector_body


def test_inspector_lifecycle(client: TestClient) -> None:
    created = create_inspector(client)
    assert created["specialties"] == ["fireworks", "hazchem"]
    assert created["county"] == "430407"
    assert created["active"] is True
    duplicate = client.post("/api/v1/inspectors", json=inspector_body(name="李四"))
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "duplicate_cert_no"
    response = client.patch(
        f"/api/v1/inspectors/{created['id']}", json={"unit": "危化烟花科", "version": 1}
    )
    assert response.json()["unit"] == "危化烟花科"
    retired = client.post(
        f"/api/v1/inspectors/{created['id']}/retire", json={"reason": "调离执法岗位"}
    )
    assert retired.json()["active"] is False
    history = client.get(f"/api/v1/inspectors/{created['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update", "retire"]
    assert history[1]["before"]["unit"] == "执法支队"


def test_inspector_validation(client: TestClient) -> None:
    response = client.post(
        "/api/v1/inspectors",
        json=inspector_body(unit="火星支队", cert_valid_to="2020-01-01", phone="call me"),
    )
    assert response.status_code == 422
    by_field = {tuple(e["loc"][:2]): e for e in response.json()["errors"]}
    assert "火星支队" in by_field[("body", "unit")]["message"]
    assert ("body", "phone") in by_field


def test_certificate_dates_must_be_ordered(client: TestClient) -> None:
    response = client.post("/api/v1/inspectors", json=inspector_body(cert_valid_from="2029-01-01"))
    assert response.status_code == 422
    assert "早于" in response.json()["detail"]


def test_inspector_filters(client: TestClient) -> None:
    create_inspector(client)
    create_inspector(
        client,
        cert_no="HN-0431-0002",
        name="刘芳",
        unit="危化烟花科",
        specialties=["coal"],
        cert_valid_to="2025-06-30",
    )
    assert client.get("/api/v1/inspectors?unit=危化烟花科").json()["total"] == 1
    assert client.get("/api/v1/inspectors?specialty=hazchem").json()["total"] == 1
    assert client.get("/api/v1/inspectors?valid_on=2026-01-01").json()["total"] == 1
    assert client.get("/api/v1/inspectors?q=刘").json()["total"] == 1


def test_conflicts_by_codes_with_dates(client: TestClient) -> None:
    enterprise = create_enterprise(client)
    inspector = create_inspector(client)
    response = client.post(
        "/api/v1/conflicts",
        json={
            "cert_no": inspector["cert_no"],
            "uscc": enterprise["uscc"],
            "reason": "曾在该企业任职",
            "valid_from": "2024-01-01",
        },
    )
    assert response.status_code == 201, response.text
    conflict = response.json()
    assert conflict["inspector_name"] == "张明"
    assert conflict["enterprise_name"] == enterprise["name"]
    again = client.post(
        "/api/v1/conflicts",
        json={
            "inspector_id": inspector["id"],
            "enterprise_id": enterprise["id"],
            "reason": "重复登记",
            "valid_from": "2024-01-01",
        },
    )
    assert again.status_code == 409
    assert client.get("/api/v1/conflicts?active_on=2025-01-01").json()["total"] == 1
    ended = client.patch(f"/api/v1/conflicts/{conflict['id']}", json={"valid_to": "2024-12-31"})
    assert ended.json()["valid_to"] == "2024-12-31"
    assert client.get("/api/v1/conflicts?active_on=2025-01-01").json()["total"] == 0
    assert client.get("/api/v1/conflicts?active_on=2024-06-01").json()["total"] == 1
    history = client.get(f"/api/v1/conflicts/{conflict['id']}/history").json()["items"]
    assert [h["action"] for h in history] == ["create", "update"]


def test_conflict_needs_exactly_one_way_to_name_each_party(client: TestClient) -> None:
    response = client.post(
        "/api/v1/conflicts",
        json={"reason": "近亲属在该企业任职", "valid_from": "2024-01-01", "inspector_id": 1},
    )
    assert response.status_code == 422
    assert "enterprise_id" in response.json()["detail"]


def test_inspection_history(client: TestClient) -> None:
    enterprise = create_enterprise(client)
    body = {
        "uscc": enterprise["uscc"],
        "inspected_on": "2025-06-18",
        "kind": "县级检查",
        "source": "衡南县应急管理局",
    }
    response = client.post("/api/v1/inspections", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["kind"] == "county"
    assert client.post("/api/v1/inspections", json=body).status_code == 409
    unknown = client.post("/api/v1/inspections", json=body | {"uscc": "91430422000000009X"})
    assert unknown.status_code in (404, 422)
    listed = client.get(f"/api/v1/inspections?uscc={enterprise['uscc']}").json()
    assert listed["total"] == 1
    june = client.get("/api/v1/inspections?date_from=2025-06-01&date_to=2025-06-30").json()
    assert june["total"] == 1
    per_enterprise = client.get(f"/api/v1/enterprises/{enterprise['id']}/inspections").json()[
        "items"
    ]
    assert per_enterprise[0]["source"] == "衡南县应急管理局"
