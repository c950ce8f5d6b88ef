"""Headers of a public site: CSP without script, no framing, nosniff, no referrer;
redirects that never reflect the Host; HEAD on pages; /metrics only for its scraper."""

from __future__ import annotations

import base64
import hashlib
import re

from app.config import Settings
from app.main import create_app
from tests.factories import ApiClient

PUBLIC = {"X-API-Key": ""}


def test_public_pages_carry_a_strict_policy(client: ApiClient) -> None:
    for path in ("/", "/draws", "/log"):
        page = client.get(path, headers=PUBLIC)
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        # scripts and styles of the site's own files only: nothing inline, nothing evaluated
        assert "script-src 'self';" in policy and "connect-src 'self'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        # The page's own inline style is allowed by its hash, computed here from the page.
        for style in re.findall(r"<style>(.*?)</style>", page.text, re.DOTALL):
            digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        assert "<script" not in page.text
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-frame-options"] == "DENY"
    api = client.get("/api/v1/draws", headers=PUBLIC)
    assert api.headers["x-content-type-options"] == "nosniff"


def test_redirects_never_reflect_the_host(client: ApiClient) -> None:
    response = client.get(
        "/draws/", headers=PUBLIC | {"Host": "evil.example"}, follow_redirects=False
    )
    assert response.status_code in (301, 307, 308), response.text
    location = response.headers["location"]
    assert "evil" not in location and location.startswith("/") and not location.startswith("//")


def test_head_works_on_pages(client: ApiClient) -> None:
    for path in ("/", "/draws", "/log"):
        got = client.get(path, headers=PUBLIC)
        head = client.head(path, headers=PUBLIC)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        assert head.headers["content-type"] == got.headers["content-type"]


def test_metrics_only_for_the_configured_scraper(
    settings: Settings, api_keys: dict[str, str]
) -> None:
    # The default: the loopback only (the test client is not it).
    default = settings.model_copy(update={"metrics_scrapers": Settings().metrics_scrapers})
    with ApiClient(create_app(default), api_keys) as client:
        refused = client.get("/metrics", headers=PUBLIC)
        assert refused.status_code == 403
        assert refused.json()["code"] == "metrics_not_allowed"
    keyed = default.model_copy(update={"metrics_key": "scrape-secret-123"})
    with ApiClient(create_app(keyed), api_keys) as client:
        assert client.get("/metrics", headers=PUBLIC).status_code == 403
        wrong = client.get("/metrics", headers=PUBLIC | {"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        scraped = client.get(
            "/metrics", headers=PUBLIC | {"Authorization": "Bearer scrape-secret-123"}
        )
        assert scraped.status_code == 200 and "shuangsui_database_up" in scraped.text
