"""Public reads cannot be turned into work: query strings do not bypass the page
cache, each notice file is rendered once per log size, and renderings are
rate-limited per client while cached pages are not."""

from __future__ import annotations

from typing import Any

import pytest
import weasyprint
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.main import create_app
from app.pools.demo_load import load_demo_pool
from app.public import notice
from tests.factories import ApiClient, ceremony_time, reveal_dice

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
PUBLIC = {"X-API-Key": ""}


def _done_draw(client: ApiClient, session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    public_id: str = frozen["public_id"]
    assert reveal_dice(client, public_id, "38274619283746529183", WITNESSES).status_code == 200
    return public_id


def _counted(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Count the calls of a real function (it still runs)."""
    calls: list[int] = []
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


def test_query_strings_do_not_bypass_the_page_cache(
    client: ApiClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    public_id = _done_draw(client, session_factory)
    pdfs = _counted(monkeypatch, weasyprint.HTML, "write_pdf")
    sheets = _counted(monkeypatch, notice, "write_xlsx")
    bodies = set()
    for bust in range(5):
        pdf = client.get(f"/draws/{public_id}.pdf?bust={bust}", headers=PUBLIC)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        bodies.add(pdf.content)
        xlsx = client.get(f"/draws/{public_id}.xlsx?v={bust}&x=1", headers=PUBLIC)
        assert xlsx.status_code == 200
        page = client.get(f"/draws/{public_id}?nocache={bust}", headers=PUBLIC)
        assert page.status_code == 200 and public_id in page.text
    assert (len(pdfs), len(sheets), len(bodies)) == (1, 1, 1)
    # A new log entry makes a new rendering, once.
    annulled = client.post(
        f"/api/v1/draws/{public_id}/annul", json={"reason": "测试撤销", "decided_by": "局务会"}
    )
    assert annulled.status_code == 200, annulled.text
    for bust in range(3):
        assert client.get(f"/draws/{public_id}.pdf?b={bust}", headers=PUBLIC).status_code == 200
    assert len(pdfs) == 2


def test_renderings_are_rate_limited_per_client(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    limited = settings.model_copy(update={"public_render_rate": "3/minute"})
    with ApiClient(create_app(limited), api_keys, raise_server_exceptions=False) as client:
        assert client.get("/draws", headers=PUBLIC).status_code == 200  # rendering 1
        for serial in (1, 2):  # renderings 2 and 3: unknown draws are never cached
            assert client.get(f"/draws/HY-2099-{serial:04d}", headers=PUBLIC).status_code == 404
        refused = client.get("/draws/HY-2099-0003", headers=PUBLIC)
        assert refused.status_code == 429, refused.text
        assert refused.json()["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        # What is already rendered is still served, to the same client.
        assert client.get("/draws?again=1", headers=PUBLIC).status_code == 200
