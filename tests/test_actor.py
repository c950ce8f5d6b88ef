"""Who did it is never lost: the acting key has its own column; the claimed person
(X-Actor) is short, clean text, sent as raw UTF-8 or percent-encoded."""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.access.models import ApiKey
from app.access.policy import hash_secret
from app.history import ChangeRecord
from app.pools.models import ImportBatch
from tests.factories import ApiClient, create_enterprise
from tests.test_import import _csv, _row, _upload


def _key_id(session_factory: sessionmaker[Session], secret: str) -> int:
    with session_factory() as session:
        key = session.scalars(select(ApiKey).where(ApiKey.secret_sha256 == hash_secret(secret)))
        return key.one().id


def _patch(client: ApiClient, enterprise_id: int, actor: str | bytes) -> int:
    response = client.patch(
        f"/api/v1/enterprises/{enterprise_id}",
        json={"address": f"衡南县新址{len(actor)}号"},
        headers={"X-Actor": actor},  # type: ignore[dict-item]
    )
    return response.status_code


def test_the_acting_key_is_kept_whatever_name_is_claimed(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    operator = _key_id(session_factory, client.keys["operator"])
    created = create_enterprise(client)
    person = "局" * 40  # the longest name allowed
    assert _patch(client, created["id"], quote(person)) == 200
    response = client.post(
        "/api/v1/plans/from-template/2025-training", headers={"X-Actor": quote("王某")}
    )
    assert response.status_code in (200, 201), response.text
    assert _upload(client, _csv([_row(7)])).status_code == 200
    history = client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]
    assert history[-1]["actor"] == f"{person}（测试经办人员）"
    assert history[-1]["actor_key_id"] == operator
    with session_factory() as session:
        records = session.scalars(select(ChangeRecord)).all()
        batches = session.scalars(select(ImportBatch)).all()
    assert {r.entity for r in records} >= {"enterprise", "plan"}
    assert all(r.actor_key_id == operator for r in records)
    assert [b.actor_key_id for b in batches] == [operator]


def test_a_long_claimed_name_is_refused_not_cut(client: ApiClient) -> None:
    created = create_enterprise(client)
    response = client.patch(
        f"/api/v1/enterprises/{created['id']}",
        json={"address": "衡南县"},
        headers={"X-Actor": quote("局长王某" + "。" * 100)},
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "invalid_actor"
    assert problem["errors"][0]["loc"] == ["header", "X-Actor"]
    assert "最多 40 个字符" in problem["detail"]
    assert len(client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]) == 1


def test_x_actor_accepts_raw_utf8_and_percent_encoding(client: ApiClient) -> None:
    created = create_enterprise(client)
    assert _patch(client, created["id"], "李四".encode()) == 200
    assert _patch(client, created["id"], quote("张三")) == 200
    actors = [
        h["actor"]
        for h in client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]
    ]
    assert actors[1:] == ["李四（测试经办人员）", "张三（测试经办人员）"]


def test_undecodable_or_unclean_names_are_refused(client: ApiClient) -> None:
    created = create_enterprise(client)
    assert _patch(client, created["id"], "%FF%FE") == 400  # percent-encoded, not UTF-8
    assert _patch(client, created["id"], "%ED%A0%80") == 400  # an encoded lone surrogate
    # Raw bytes that are not UTF-8: tests/test_hostile.py (this client re-encodes them).
    wang = quote("王")
    for unclean in [f"{wang}%0D%0A", f"{wang}%00", "%E2%80%AEgpj.exe", f"{wang}%01"]:
        response = client.patch(
            f"/api/v1/enterprises/{created['id']}",
            json={"address": "衡南县"},
            headers={"X-Actor": unclean},
        )
        assert response.status_code == 422, (unclean, response.text)
        assert response.json()["errors"][0]["loc"] == ["header", "X-Actor"]
    assert len(client.get(f"/api/v1/enterprises/{created['id']}/history").json()["items"]) == 1
