"""Every list answers one page shape; a filter value outside its vocabulary
is refused with the allowed ones, never answered with an empty page."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import ApiClient, create_enterprise, create_inspector, uscc

PAGE_KEYS = {"items", "total", "page", "page_size"}


def _page(client: TestClient, url: str, **params: Any) -> dict[str, Any]:
    response = client.get(url, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == PAGE_KEYS, body
    return dict(body)


def test_histories_inspections_and_keys_are_pages(client: ApiClient) -> None:
    enterprise = create_enterprise(client, uscc=uscc(serial=1))
    for grade in ("A", "B", "C"):
        client.patch(f"/api/v1/enterprises/{enterprise['id']}", json={"risk_grade": grade})
    history = _page(client, f"/api/v1/enterprises/{enterprise['id']}/history")
    assert history["total"] == 4
    assert [h["action"] for h in history["items"]] == ["create", "update", "update", "update"]
    second = _page(client, f"/api/v1/enterprises/{enterprise['id']}/history", page=2, page_size=3)
    assert (second["total"], second["page"], len(second["items"])) == (4, 2, 1)
    assert second["items"][0]["after"]["risk_grade"] == "C"

    inspector = create_inspector(client)
    assert _page(client, f"/api/v1/inspectors/{inspector['id']}/history")["total"] == 1
    assert _page(client, f"/api/v1/enterprises/{enterprise['id']}/inspections")["total"] == 0
    keys = client.get("/api/v1/keys", headers=client.as_role("admin")).json()
    assert set(keys) == PAGE_KEYS
    assert keys["total"] == len(client.keys)


@pytest.mark.parametrize(
    ("url", "params", "allowed"),
    [
        ("/api/v1/enterprises", {"subtype": "gas"}, "gas_station"),
        ("/api/v1/enterprises", {"status": "bogus"}, "operating"),
        ("/api/v1/enterprises", {"sector": "oil"}, "hazchem"),
        ("/api/v1/enterprises", {"risk_grade": "E"}, "D"),
        ("/api/v1/enterprises", {"tag": "big"}, "major_hazard"),
        ("/api/v1/enterprises", {"county": "长沙县"}, "常宁市"),
        ("/api/v1/inspectors", {"specialty": "gas"}, "hazchem"),
        ("/api/v1/inspectors", {"unit": "某科"}, "执法支队"),
        ("/api/v1/inspections", {"kind": "random"}, "cross"),
        ("/api/v1/plans", {"sector": "oil"}, "hazchem"),
        ("/api/v1/draws", {"sector": "oil"}, "hazchem"),
        ("/api/v1/draws", {"status": "bogus"}, "annulled"),
    ],
)
def test_an_unknown_filter_value_is_refused_with_the_allowed_ones(
    client: TestClient, url: str, params: dict[str, str], allowed: str
) -> None:
    response = client.get(url, params=params)
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    value = next(iter(params.values()))
    assert value in error["message"]
    assert allowed in error["message"]


def test_known_filter_values_still_filter(client: TestClient) -> None:
    create_enterprise(client, uscc=uscc(serial=1), county="常宁市", subtype="加油站")
    create_enterprise(client, uscc=uscc(serial=2), county="衡南县", subtype="化工企业")
    by_full_name = _page(client, "/api/v1/enterprises", county="衡阳市常宁市")
    assert [e["county_name"] for e in by_full_name["items"]] == ["常宁市"]
    by_code = _page(client, "/api/v1/enterprises", subtype="chemical")
    assert [e["uscc"] for e in by_code["items"]] == [uscc(serial=2)]


def test_filters_are_documented_as_enums(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    parameters = {
        p["name"]: p for p in document["paths"]["/api/v1/enterprises"]["get"]["parameters"]
    }
    subtype = parameters["subtype"]["schema"]
    assert "gas_station" in subtype["items"]["enum"]
    assert "operating" in parameters["status"]["schema"]["items"]["enum"]


def test_the_allowed_values_are_listed_in_chinese(client: TestClient) -> None:
    # Pydantic's own enumeration reads "'frozen', 'done', 'failed' or 'annulled'".
    (error,) = client.get("/api/v1/draws", params={"status": "bogus"}).json()["errors"]
    assert error["message"] == "“bogus”不是可选值，应为以下之一：frozen、done、failed、annulled"
    tag = client.post("/api/v1/plans/1/freeze", json={"seed": {"source": "coin"}})
    assert tag.status_code == 422
    assert "dice、drand、dice+drand" in tag.json()["detail"]
    assert " or " not in tag.json()["detail"]
