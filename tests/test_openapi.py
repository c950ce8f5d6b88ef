"""The OpenAPI document as a client generator reads it: stable operationIds,
a tag per feature, the role each operation needs, its real error codes under
application/problem+json, no key demanded on public reads."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.test_access import MATRIX


@pytest.fixture
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_the_title_is_ascii_and_the_chinese_name_is_described(document: dict[str, Any]) -> None:
    info = document["info"]
    assert info["title"].isascii() and re.fullmatch(r"[a-z][a-z0-9-]*", info["title"])
    assert "双随机、一公开" in info["description"]


def test_operation_ids_are_explicit_unique_and_named_by_feature(
    document: dict[str, Any],
) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    for method, path, operation in _operations(document):
        operation_id = operation["operationId"]
        assert re.fullmatch(r"[a-z]+(_[a-z]+)+", operation_id), (method, path, operation_id)
        assert operation_id.split("_")[0] == operation["tags"][0], (method, path)
    by_route = {(m, p): op["operationId"] for m, p, op in _operations(document)}
    assert by_route[("POST", "/api/v1/plans/{plan_id}/freeze")] == "draws_freeze"
    assert by_route[("POST", "/api/v1/enterprises/import")] == "enterprises_import"
    assert by_route[("POST", "/api/v1/draws/{public_id}/seed/confirm")] == "draws_seed_confirm"
    assert {t["name"] for t in document["tags"]} >= {
        op["tags"][0] for _, _, op in _operations(document)
    }


def test_every_error_answer_is_a_problem_with_its_codes(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path)
            schema = response["content"]["application/problem+json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Problem"}
            codes = response["x-error-codes"]
            assert codes and all(re.fullmatch(r"[a-z_]+", c) for c in codes), (path, status)
            assert all(c in response["description"] for c in codes)
    problem = document["components"]["schemas"]["Problem"]
    assert {"code", "title", "detail", "status"} <= set(problem["properties"])


def _codes(document: dict[str, Any], method: str, path: str) -> dict[str, list[str]]:
    responses = document["paths"][path][method.lower()]["responses"]
    return {s: r["x-error-codes"] for s, r in responses.items() if "x-error-codes" in r}


def test_each_operation_lists_the_errors_it_can_really_give(document: dict[str, Any]) -> None:
    confirm = _codes(document, "POST", "/api/v1/draws/{public_id}/seed/confirm")
    assert "seed_mismatch" in confirm["409"]
    assert "idempotency_key_reused" in confirm["422"]
    assert "role_not_allowed" in confirm["403"]
    freeze = _codes(document, "POST", "/api/v1/plans/{plan_id}/freeze")
    assert {"quota_infeasible", "malformed_json", "invalid_input"} <= set(freeze["422"])
    assert {"plan_already_drawn", "replaces_not_latest"} <= set(freeze["409"])
    assert (
        "version_conflict"
        in _codes(document, "PATCH", "/api/v1/enterprises/{enterprise_id}")["409"]
    )
    # A probe takes no input and needs no role: it answers none of those.
    healthz = _codes(document, "GET", "/healthz")
    assert "404" not in healthz and "409" not in healthz and "403" not in healthz
    assert "api_key_required" not in str(_codes(document, "GET", "/api/v1/log/checkpoint"))


def test_roles_and_security_follow_the_route_policies(document: dict[str, Any]) -> None:
    # The access matrix of test_access, written out by hand, not read from the routes.
    for (method, path), roles in MATRIX.items():
        operation = document["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue  # a public HTML page, not in the API document
        if "public" in roles:
            assert operation["x-roles"] == [], path
            assert {} in operation["security"], path  # no key required
        else:
            assert operation["x-roles"] == sorted(roles), path
            assert {} not in operation.get("security", []), path
            assert all(role in operation["description"] for role in roles), path


def test_filters_and_vocabulary_fields_are_enums(document: dict[str, Any]) -> None:
    inspections = document["paths"]["/api/v1/inspections"]["get"]["parameters"]
    kind = next(p for p in inspections if p["name"] == "kind")
    assert "cross" in kind["schema"]["items"]["enum"]
    enterprise = document["components"]["schemas"]["EnterpriseOut"]["properties"]
    assert "gas_station" in enterprise["subtype"]["enum"]
    assert "major_hazard" in enterprise["tags"]["items"]["enum"]
    assert "operating" in enterprise["status"]["enum"]
