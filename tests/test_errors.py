"""Errors a person acts on: only the problems of the body meant, in Chinese,
with the rule; the framework's own answers in Chinese with stable codes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo_load import load_demo_pool
from app.validation import chosen_member_errors
from tests.factories import ceremony_time, reveal_dice

WITNESSES = ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]


def dice() -> dict[str, Any]:
    """A freeze body announcing a dice ceremony for now."""
    return {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}


# A message in English would have a run of Latin words and no Chinese.
_CHINESE = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def frozen(client: TestClient, session_factory: sessionmaker[Session]) -> dict[str, Any]:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    response = client.post(f"/api/v1/plans/{plan['id']}/freeze", json=dice())
    assert response.status_code == 201, response.text
    return dict(response.json())


def _assert_chinese(problem: dict[str, Any]) -> None:
    assert _CHINESE.search(problem["title"]), problem
    assert _CHINESE.search(problem["detail"]), problem
    for item in problem["errors"]:
        assert _CHINESE.search(item["message"]), item
    assert re.fullmatch(r"[a-z_]+", problem["code"]), problem


def test_a_short_dice_entry_is_told_its_rule_and_nothing_about_drand(
    client: TestClient, frozen: dict[str, Any]
) -> None:
    response = client.post(
        f"/api/v1/draws/{frozen['public_id']}/seed",
        json={"digits": "12345", "witnesses": WITNESSES},
    )
    assert response.status_code == 422
    problem = response.json()
    (error,) = problem["errors"]
    assert error["loc"] == ["body", "digits"]
    assert "骰子点数至少 20 位数字" in error["message"]
    assert "5 位" in error["message"]
    assert "round" not in problem["detail"] and "signature" not in problem["detail"]
    _assert_chinese(problem)


def test_a_drand_body_with_a_bad_field_is_told_only_that(client: TestClient) -> None:
    response = client.post(
        "/api/v1/draws/HY-2099-0001/seed",
        json={"round": 5, "randomness": "ab" * 32, "signature": "xyz"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "signature"]
    assert "96 位小写十六进制" in error["message"]


def test_dice_digits_typed_in_groups_are_digits(client: TestClient, frozen: dict[str, Any]) -> None:
    grouped = "3827 4619　2837-4652，9183"
    plain = "38274619283746529183"
    response = reveal_dice(client, frozen["public_id"], grouped, WITNESSES)
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "done"
    assert done["seed"] == f"dice/{plain}/{frozen['frame_hash']}"


def test_a_union_tag_outside_the_choices_is_named_in_chinese(client: TestClient) -> None:
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    body = {"seed": {"source": "coin", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    response = client.post(f"/api/v1/plans/{plan['id']}/freeze", json=body)
    assert response.status_code == 422
    problem = response.json()
    (error,) = problem["errors"]
    assert error["code"] == "union_tag_invalid"
    assert "coin" in error["message"] and "dice" in error["message"]
    _assert_chinese(problem)
    missing = client.post(f"/api/v1/plans/{plan['id']}/freeze", json={"seed": {}})
    (error,) = missing.json()["errors"]
    assert error["code"] == "union_tag_not_found"
    _assert_chinese(missing.json())


def test_a_body_that_is_not_json(client: TestClient) -> None:
    response = client.post(
        "/api/v1/enterprises", content=b'{"name": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "malformed_json"
    _assert_chinese(problem)


def test_a_method_the_address_does_not_have(client: TestClient) -> None:
    response = client.put("/api/v1/enterprises", json={})
    assert response.status_code == 405
    problem = response.json()
    assert problem["code"] == "method_not_allowed"
    assert "PUT" in problem["detail"] and "GET" in problem["detail"]
    assert "Method Not Allowed" not in problem["detail"]
    _assert_chinese(problem)


def test_an_import_without_a_file_and_with_a_broken_form(client: TestClient) -> None:
    no_file = client.post("/api/v1/enterprises/import", data={"x": "1"})
    assert no_file.status_code == 422
    _assert_chinese(no_file.json())
    text_for_file = client.post("/api/v1/enterprises/import", data={"file": "不是文件"})
    assert text_for_file.status_code == 422
    (error,) = text_for_file.json()["errors"]
    assert "上传的文件" in error["message"]
    broken = client.post(
        "/api/v1/enterprises/import",
        content=b"--xyz\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert broken.status_code in (400, 422)
    _assert_chinese(broken.json())


def test_every_field_problem_of_a_bad_enterprise_is_chinese(client: TestClient) -> None:
    response = client.post(
        "/api/v1/enterprises",
        json={
            "uscc": "123",
            "name": 5,
            "county": ["x"],
            "subtype": "火箭",
            "key_supervision": "maybe",
            "tags": "重大危险源",
            "unknown": 1,
        },
    )
    assert response.status_code == 422
    problem = response.json()
    assert len(problem["errors"]) >= 6
    _assert_chinese(problem)


def test_a_capitalised_key_is_not_taken_for_a_union_member() -> None:
    errors = [{"loc": ("body", "ratio", "D"), "type": "decimal_parsing"}]
    assert chosen_member_errors(errors) == errors
