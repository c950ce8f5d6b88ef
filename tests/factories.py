"""Plain factory functions for test data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from stdnum.cn.uscc import calc_check_digit

from app.draws import ceremony
from app.draws.models import Draw, Plan
from app.draws.schemas import DiceReveal, FreezeRequest
from app.history import Person


class ApiClient(TestClient):
    """A test client that calls as an operator, and can call as any other role."""

    def __init__(self, app: FastAPI, keys: dict[str, str], **kwargs: Any) -> None:
        super().__init__(app, headers={"X-API-Key": keys["operator"]}, **kwargs)
        self.keys = keys

    def as_role(self, role: str) -> dict[str, str]:
        """Headers that make one request as this role ("public": as nobody)."""
        return {"X-API-Key": self.keys[role]} if role != "public" else {"X-API-Key": ""}


def reveal_dice(
    client: httpx.Client,
    public_id: str,
    digits: str,
    witnesses: list[str],
    witness_key: str | None = None,
) -> httpx.Response:
    """An operator enters the ceremony's digits and a witness confirms them."""
    if witness_key is None:
        assert isinstance(client, ApiClient)
        witness_key = client.keys["witness"]
    entered = client.post(
        f"/api/v1/draws/{public_id}/seed", json={"digits": digits, "witnesses": witnesses}
    )
    if entered.status_code != 200 or entered.json()["seed"] is not None:
        return entered
    return client.post(
        f"/api/v1/draws/{public_id}/seed/confirm",
        json={"digits": digits},
        headers={"X-API-Key": witness_key, "X-Actor": quote(witnesses[0])},
    )


def uscc(region: str = "430422", serial: int = 1, authority: str = "9", category: str = "1") -> str:
    """A valid 统一社会信用代码 (check character from python-stdnum, not from our code)."""
    body = f"{authority}{category}{region}{serial:09d}"
    return body + calc_check_digit(body)


def enterprise_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uscc": uscc(),
        "name": "衡南县示例加油站有限公司",
        "county": "衡南县",
        "subtype": "gas_station",
        "risk_grade": "B",
        "tags": ["major_hazard"],
        "address": "衡南县云集街道示例路1号",
    }
    return body | overrides


def create_enterprise(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/enterprises", json=enterprise_body(**overrides))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def inspector_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张明",
        "cert_no": "HN-0431-0001",
        "cert_valid_from": "2024-01-01",
        "cert_valid_to": "2028-12-31",
        "unit": "执法支队",
        "county": "石鼓区",
        "specialties": ["hazchem", "fireworks"],
        "phone": "13800000001",
    }
    return body | overrides


def create_inspector(client: TestClient, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/inspectors", json=inspector_body(**overrides))
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def ceremony_time(hours: float = 0) -> str:
    """An announced dice ceremony time: by default now, so that digits may be entered at once."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def beijing_today() -> str:
    """Today's date in Beijing, the only inspection date a draw made today admits."""
    return datetime.now(timezone(timedelta(hours=8))).date().isoformat()


def log_kinds(client: httpx.Client, public_id: str) -> list[str]:
    """The kinds of a draw's log entries, in log order."""
    draw = client.get(f"/api/v1/draws/{public_id}").json()
    return [
        client.get(f"/api/v1/log/entries/{index}").json()["entry"]["kind"]
        for index in draw["log_entries"]
    ]


def freeze_with_dice(
    session: Session, plan: Plan, witnesses: list[str], actor: str = "测试"
) -> Draw:
    """Freeze a plan for a dice ceremony announced for now, as the service's own code does."""
    request = FreezeRequest.model_validate(
        {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": witnesses}}
    )
    return ceremony.freeze(session, plan=plan, request=request, actor=actor)


def reveal_at_console(
    session: Session, public_id: str, digits: str, witnesses: list[str], actor: str = "测试"
) -> Draw:
    """Enter and confirm the digits in one step, as the server's console does."""
    return ceremony.reveal_dice(
        session,
        public_id=public_id,
        reveal=DiceReveal(digits=digits, witnesses=witnesses),
        operator=actor,
        witness=Person(actor=f"{witnesses[0]}（{actor}）", name=witnesses[0]),
    )


WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


def dice_draw(
    client: ApiClient, plan_id: int, digits: str, ceremony_at: str | None = None
) -> dict[str, Any]:
    """Freeze a plan for a dice ceremony (now, or at `ceremony_at` as the ceremony's clock
    says) and reveal these digits: the finished draw."""
    announced = ceremony_at or ceremony_time()
    frozen = client.post(
        f"/api/v1/plans/{plan_id}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": announced, "witnesses": WITNESSES}},
    )
    assert frozen.status_code == 201, frozen.text
    done: dict[str, Any] = reveal_dice(client, frozen.json()["public_id"], digits, WITNESSES).json()
    return done


def set_ceremony_clock(monkeypatch: Any, clock: Any) -> None:
    """Make the ceremony's steps (the freeze included) see `clock()` as now."""
    for module in ("app.draws.ceremony", "app.draws.freezing"):
        monkeypatch.setattr(f"{module}.utcnow", clock)
