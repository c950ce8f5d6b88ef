"""Operations: request ids, one JSON log line per request, Prometheus metrics
(HTTP counts by route template, business figures read from the database),
liveness and readiness."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.draws import service
from app.draws.templates import TEMPLATES
from app.ledger import store
from app.main import create_app
from app.migrate import upgrade
from app.pools.demo_load import load_demo_pool
from app.pools.models import ImportBatch
from tests.factories import freeze_with_dice

PUBLIC = {"X-API-Key": ""}  # probes and scrapers call without a key
LOG_ROUTE = "/api/v1/log/entries/{index}"


def _scrape(client: TestClient) -> list[Sample]:
    response = client.get("/metrics", headers=PUBLIC)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return [s for f in text_string_to_metric_families(response.text) for s in f.samples]


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum of the samples of this name whose labels include these."""
    return sum(s.value for s in samples if s.name == name and labels.items() <= s.labels.items())


def _json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [line for line in lines if isinstance(line, dict)]


def test_a_request_id_is_generated_and_echoed(client: TestClient) -> None:
    first = client.get("/healthz", headers=PUBLIC)
    second = client.get("/healthz", headers=PUBLIC)
    ids = [r.headers["X-Request-ID"] for r in (first, second)]
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert ids[0] != ids[1]


def test_a_sane_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/healthz", headers=PUBLIC | {"X-Request-ID": "lb-7f3a.2_X"})
    assert response.headers["X-Request-ID"] == "lb-7f3a.2_X"


@pytest.mark.parametrize("junk", ["has space", "a" * 129, "semi;colon", "<script>", ""])
def test_a_junk_request_id_is_replaced(client: TestClient, junk: str) -> None:
    response = client.get("/healthz", headers=PUBLIC | {"X-Request-ID": junk})
    echoed = response.headers["X-Request-ID"]
    assert echoed != junk
    assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_error_answers_carry_the_request_id(
    client: TestClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    unmatched = client.get("/no/such/place", headers={"X-Request-ID": "e-404"})
    assert (unmatched.status_code, unmatched.headers["X-Request-ID"]) == (404, "e-404")
    invalid = client.get("/api/v1/log/entries/abc", headers={"X-Request-ID": "e-422"})
    assert (invalid.status_code, invalid.headers["X-Request-ID"]) == (422, "e-422")

    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as failing:
        crashed = failing.get("/boom", headers={"X-Request-ID": "e-500"})
    assert crashed.status_code == 500
    assert crashed.headers["X-Request-ID"] == "e-500"
    assert crashed.json()["code"] == "internal_error"
    # The unexpected error's own log line carries the request id too.
    lines = _json_lines(capsys.readouterr().out)
    errors = [line for line in lines if line.get("event") == "unexpected error"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "e-500"
    assert errors[0]["level"] == "error"
    assert "RuntimeError: boom" in errors[0]["exception"]


def test_one_json_log_line_per_request(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.get("/api/v1/log/entries/0", headers={"X-Request-ID": "log-line-1"})
    lines = _json_lines(capsys.readouterr().out)
    mine = [line for line in lines if line.get("request_id") == "log-line-1"]
    requests = [line for line in mine if line["event"] == "request"]
    assert len(requests) == 1
    line = requests[0]
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/log/entries/0"
    assert line["route"] == LOG_ROUTE
    assert line["status"] == response.status_code
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["client_ip"] == "testclient"
    assert line["level"] == "info"
    assert line["timestamp"].endswith("Z")


def test_metrics_count_requests_under_their_route_template(client: TestClient) -> None:
    before = _scrape(client)
    client.get("/api/v1/log/entries/0")
    client.get("/api/v1/log/entries/17")
    client.get("/no/such/place/12345")
    after = _scrape(client)

    def increase(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    requests = "shuangsui_http_requests_total"
    assert increase(requests, method="GET", route=LOG_ROUTE) == 2
    assert increase(requests, method="GET", route="unmatched", status="404") == 1
    duration_count = "shuangsui_http_request_duration_seconds_count"
    assert increase(duration_count, method="GET", route=LOG_ROUTE) == 2
    # Raw paths never become label values: their number would be unbounded.
    routes = {s.labels.get("route") for s in after if s.name.startswith("shuangsui_http_")}
    assert not any(r and ("/17" in r or "/no/such" in r) for r in routes)


def test_metrics_read_business_figures_from_the_database(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    empty = _scrape(client)
    assert _value(empty, "shuangsui_log_entries") == 0
    assert _value(empty, "shuangsui_database_up") == 1
    assert _value(empty, "shuangsui_enterprises") == 0
    assert _value(empty, "shuangsui_draws", status="frozen") == 0
    assert _value(empty, "shuangsui_imports_total", entity="enterprises") == 0

    with session_factory() as session:
        counts = load_demo_pool(session)
        session.add(
            ImportBatch(
                target="enterprises",
                filename="企业名录.xlsx",
                sha256="0" * 64,
                actor="测试",
                rows=5,
                created=3,
                updated=2,
                unchanged=0,
            )
        )
        plan = service.create_plan(
            session, data=TEMPLATES["2025-hazchem"], actor="测试", template_key="2025-hazchem"
        )
        freeze_with_dice(
            session, plan, ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]
        )
        session.commit()
        log_size = store.size(session)

    loaded = _scrape(client)
    assert log_size > 0
    assert _value(loaded, "shuangsui_log_entries") == log_size
    assert _value(loaded, "shuangsui_enterprises") == counts["企业"]
    assert _value(loaded, "shuangsui_inspectors") == counts["执法人员"]
    assert _value(loaded, "shuangsui_draws", status="frozen") == 1
    assert _value(loaded, "shuangsui_draws", status="done") == 0
    assert _value(loaded, "shuangsui_imports_total", entity="enterprises") == 1
    assert _value(loaded, "shuangsui_imports_total", entity="inspectors") == 0
    rows = "shuangsui_import_rows_total"
    assert _value(loaded, rows, entity="enterprises", outcome="created") == 3
    assert _value(loaded, rows, entity="enterprises", outcome="updated") == 2


def test_healthz_and_readyz_on_a_migrated_database(client: TestClient) -> None:
    health = client.get("/healthz", headers=PUBLIC)
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = client.get("/readyz", headers=PUBLIC)
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


def _problem_codes(response: Any) -> list[str]:
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert (body["status"], body["code"], body["title"]) == (503, "not_ready", "服务尚未就绪")
    return [item["code"] for item in body["errors"]]


def test_readyz_refuses_a_schema_below_head_until_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    with TestClient(create_app(Settings(database_url=url, data_dir=tmp_path / "data"))) as c:
        not_ready = c.get("/readyz")
        assert _problem_codes(not_ready) == ["schema_not_at_head"]
        assert "shuangsui migrate" in not_ready.json()["detail"]
        upgrade(url)
        ready = c.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ok"})


def test_liveness_does_not_need_the_database_but_readiness_does(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite3'}"
    # The test client scrapes as a configured scraper would ("testclient" is its address).
    settings = Settings(database_url=url, data_dir=tmp_path / "data", metrics_scrapers="testclient")
    with TestClient(create_app(settings)) as c:
        health = c.get("/healthz")
        ready = c.get("/readyz")
        scraped = c.get("/metrics")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert _problem_codes(ready) == ["database_unavailable"]
    # the scrape still answers, with the request figures, and says the database is down
    assert scraped.status_code == 200
    assert "shuangsui_database_up 0.0" in scraped.text
    assert "shuangsui_http_requests_total" in scraped.text


def test_the_ops_routes_are_documented(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/metrics", "/healthz", "/readyz"):
        assert paths[path]["get"]["tags"] == ["ops"]
    assert "application/problem+json" in paths["/readyz"]["get"]["responses"]["503"]["content"]
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]
