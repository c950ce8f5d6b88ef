"""End to end in a real browser: Debian's Chromium, driven by Playwright, against
the service running under uvicorn, on each backend."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.db import make_engine, make_sessionmaker
from app.pools.demo import demo_pool
from app.pools.demo_load import load_demo_pool
from tests.auditor import copy_verifier
from tests.conftest import IN_CI
from tests.factories import ceremony_time, reveal_dice
from tests.test_algorithm_vectors import VECTORS_DIR

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
# As the machine's notes say: no background traffic, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_server(db_url: str, tmp_path: Path) -> Iterator[str]:
    """The service under uvicorn on a free port, with the demo pool loaded."""
    engine = make_engine(db_url)
    with make_sessionmaker(engine)() as session:
        load_demo_pool(session)
        session.commit()
    engine.dispose()
    port = _free_port()
    env = os.environ | {"SHUANGSUI_DATABASE_URL": db_url, "SHUANGSUI_DATA_DIR": str(tmp_path)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.asgi:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/log/key", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        server.kill()
        pytest.fail(f"the server did not start: {server.stderr.read() if server.stderr else ''}")
    yield base
    server.terminate()
    server.wait(10)


@pytest.fixture
def chromium() -> str:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail("Chromium is missing: CI must run the browser test")
        pytest.skip("Debian's chromium is not installed here")
    return CHROMIUM


def _draw(live_server: str, api_keys: dict[str, str], template: str, digits: str) -> Any:
    """A finished dice draw of a ready plan, made through the API as an operator and a witness."""
    with httpx.Client(
        base_url=live_server, timeout=30, headers={"X-API-Key": api_keys["operator"]}
    ) as api:
        plan = api.post(f"/api/v1/plans/from-template/{template}").json()
        frozen = api.post(
            f"/api/v1/plans/{plan['id']}/freeze",
            json={
                "seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}
            },
        ).json()
        return reveal_dice(api, frozen["public_id"], digits, WITNESSES, api_keys["witness"]).json()


def test_the_public_reads_and_verifies_a_draw(
    live_server: str, chromium: str, tmp_path: Path, api_keys: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    done = _draw(live_server, api_keys, "2025-hazchem", "16180339887498948482")
    public_id = done["public_id"]
    key = httpx.get(f"{live_server}/api/v1/log/key").text.strip()
    names = {e.uscc: e.name for e in demo_pool().enterprises}
    drawn = [
        names[u["key"]]
        for s in done["result"]["strata"]
        for u in s["selected"]
        if u["key"] in names
    ]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True, viewport={"width": 390, "height": 844})
        page.goto(f"{live_server}/")
        page.get_by_role("link", name=public_id).click()
        page.wait_for_url(f"**/draws/{public_id}")
        text = page.inner_text("main")
        for name in drawn:
            assert name in text
        assert "已出结果" in text
        # readable on a phone: the page does not scroll sideways
        assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        with page.expect_download() as download:
            page.get_by_role("link", name="验证包").click()
        bundle_path = tmp_path / "bundle.json"
        download.value.save_as(bundle_path)
        browser.close()

    bundle = json.loads(bundle_path.read_text())
    assert bundle["draw"] == public_id
    # verify it from a directory without the project, as an auditor would
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    copy_verifier(auditor)
    result = subprocess.run(
        [sys.executable, "verify.py", str(bundle_path), "--key", key],
        cwd=auditor,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _offline(context: Any, blocked: list[str]) -> None:
    """Abort every request that leaves this machine, and note it."""

    def route(route: Any) -> None:
        host = urlsplit(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    context.route("**/*", route)


def test_the_api_docs_render_without_internet(live_server: str, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        _offline(context, blocked)
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server}/docs")
        page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
        assert "shuangsui" in page.inner_text(".swagger-ui .info .title")
        assert "双随机" in page.inner_text(".swagger-ui .info")
        page.wait_for_selector(".opblock-tag", timeout=30_000)
        assert page.locator(".opblock").count() > 20  # the operations are listed
        page.goto(f"{live_server}/redoc")
        page.wait_for_selector("redoc h1, [role=main] h1, .api-content h1", timeout=30_000)
        assert "双随机" in page.inner_text("body")
        assert "draws" in page.inner_text("body")
        browser.close()
    # Nothing the docs need comes from outside; ReDoc's footer still asks its CDN for a
    # decorative logo, which it hides when the image fails, as it does offline.
    assert errors == [], errors
    assert blocked in ([], ["image https://cdn.redoc.ly/redoc/logo-mini.svg"]), blocked


# For every element with its own text: its colour against the first opaque background
# behind it, as WCAG 2.x computes the contrast ratio. Returns the elements below 4.5:1.
CONTRAST_JS = """
() => {
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (css) => css.match(/[\\d.]+/g).map(Number);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length < 4 || c[3] > 0.99) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const fg = parse(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5) low.push(el.tagName + " " + ratio.toFixed(2) + " " + el.textContent.trim().slice(0, 20));
  }
  return low;
}
"""
# Codes that must read as one piece: each a single line box.
SPLIT_CODES_JS = """
() => [...document.querySelectorAll("code.uscc, .code")]
  .filter((el) => el.getClientRects().length > 1 || el.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(el).lineHeight || 24))
  .map((el) => el.textContent)
"""
SMALL_TARGETS_JS = """
() => [...document.querySelectorAll("header a, .downloads a")]
  .map((el) => [el.textContent, el.getBoundingClientRect()])
  .filter(([, r]) => r.width < 24 || r.height < 24)
  .map(([t]) => t)
"""


def test_every_public_page_reads_well_on_a_phone_and_a_desktop(
    live_server: str, chromium: str, api_keys: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    done = _draw(live_server, api_keys, "2024-hazchem", "38274619283746529183")
    public_id = done["public_id"]
    code = done["result"]["strata"][0]["selected"][0]["key"]
    pages = ["/", f"/draws/{public_id}", "/log", "/verify", f"/enterprises/{code}"]

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for width in (360, 390, 1280):
            page = browser.new_page(viewport={"width": width, "height": 800})
            for path in pages:
                page.goto(f"{live_server}{path}")
                where = (width, path)
                assert page.evaluate("document.documentElement.lang") == "zh-CN", where
                assert "衡阳市应急管理局" in page.inner_text("header"), where
                assert page.evaluate("document.documentElement.scrollWidth") <= width, where
                assert page.evaluate(SPLIT_CODES_JS) == [], where
                assert page.evaluate(SMALL_TARGETS_JS) == [], where
                assert page.evaluate(CONTRAST_JS) == [], where
            page.goto(f"{live_server}/draws/{public_id}")
            assert page.locator("code.uscc").count() == 22
            header = page.locator("table.units thead").first.bounding_box()
            assert header is not None
            if width < 768:  # stacked cards: no column headers to squeeze
                assert header["height"] <= 1
                # 22 enterprises in cards, not a 6,300 px column of one-character cells
                assert page.evaluate("document.documentElement.scrollHeight") < 8000
            else:
                assert header["height"] > 20
            page.close()

        # a missing page answers a person with a page, in Chinese, and the right status
        page = browser.new_page(viewport={"width": 390, "height": 800})
        response = page.goto(f"{live_server}/draws/HY-2099-0001")
        assert response is not None and response.status == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "未找到" in page.inner_text("main")
        browser.close()


VECTORS_JS = """
async (vector) => {
  const V = window.ShuangsuiVerify;
  const sha = async (t) => Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256",
    new TextEncoder().encode(t))), (b) => b.toString(16).padStart(2, "0")).join("");
  const frameHash = await sha(V.jcs(vector.frame));
  const seed = vector.seed || `${vector.seed_source}/${vector.seed_value}/${frameHash}`;
  try {
    const result = await V.draw(vector.frame, seed);
    return {frame_hash: frameHash, result: V.jcs(result), result_hash: await sha(V.jcs(result))};
  } catch (error) {
    if (!(error instanceof V.Refused)) throw error;
    return {frame_hash: frameHash, refused: error.message, at_freeze: error.atFreeze};
  }
}
"""
VERDICT = "[data-verification=passed], [data-verification=failed], [data-verification=unsupported]"


def _verdict(page: Any) -> tuple[str, str | None]:
    page.wait_for_selector(VERDICT, timeout=60_000)
    root = page.locator("[data-verification]")
    return root.get_attribute("data-verification"), root.get_attribute("data-failed-step")


def test_the_draw_verifies_in_the_browser_and_tampering_fails(
    live_server: str, chromium: str, api_keys: dict[str, str]
) -> None:
    import rfc8785
    from playwright.sync_api import sync_playwright

    done = _draw(live_server, api_keys, "2024-hazchem", "38274619283746529183")
    public_id = done["public_id"]
    vectors = sorted(VECTORS_DIR.glob("*.json"))
    assert len(vectors) >= 9

    def tampered(change: Any) -> Any:
        def handle(route: Any) -> None:
            response = route.fetch()
            bundle = response.json()
            change(bundle)
            route.fulfill(response=response, body=json.dumps(bundle, ensure_ascii=False))

        return handle

    def swap_a_unit(bundle: dict[str, Any]) -> None:
        stratum = bundle["result"]["strata"][0]
        chosen = {u["key"] for u in stratum["selected"]}
        frame = next(s for s in bundle["frame"]["strata"] if s["id"] == stratum["id"])
        stratum["selected"][0]["key"] = next(
            u["key"] for u in frame["units"] if u["key"] not in chosen
        )

    def forge_signature(bundle: dict[str, Any]) -> None:
        text, _, signature = bundle["log"]["checkpoint"].rpartition("— ")
        name, blob = signature.strip().split(" ")
        flipped = ("B" if blob[10] != "B" else "C").join((blob[:10], blob[11:]))
        bundle["log"]["checkpoint"] = f"{text}— {name} {flipped}\n"

    def break_a_proof(bundle: dict[str, Any]) -> None:
        entry = bundle["log"]["entries"][0]
        entry["inclusion_proof"] = list(reversed(entry["inclusion_proof"]))

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{live_server}/draws/{public_id}")
        assert _verdict(page) == ("passed", None), page.inner_text(".verification")
        assert "验证通过" in page.inner_text(".verification")

        # the conformance vectors, unchanged, through the page's own draw/1
        for path in vectors:
            vector = json.loads(path.read_text())
            out = page.evaluate(VECTORS_JS, vector)
            if vector.get("error"):
                assert out.get("at_freeze") is True, (path.name, out)
                continue
            assert out["frame_hash"] == vector["frame_hash"], path.name
            assert out["result"] == rfc8785.dumps(vector["result"]).decode(), path.name
            assert out["result_hash"] == vector["result_hash"], path.name

        for change, step in (
            (swap_a_unit, "按 draw/1 重算的结果与公布的结果一致"),
            (forge_signature, "检查点的 Ed25519 签名有效（用本站公布的日志公钥）"),
            (break_a_proof, "第 0 条日志条目在检查点中"),
        ):
            tampering = browser.new_page(viewport={"width": 390, "height": 844})
            tampering.route(f"**/api/v1/draws/{public_id}/bundle", tampered(change))
            tampering.goto(f"{live_server}/draws/{public_id}")
            assert _verdict(tampering) == ("failed", step), tampering.inner_text(".verification")
            assert "验证未通过" in tampering.inner_text(".verification")
            tampering.close()
        browser.close()
    assert errors == []


def test_the_ceremony_screen_follows_the_draw_by_itself(
    live_server: str, chromium: str, api_keys: dict[str, str]
) -> None:
    from playwright.sync_api import sync_playwright

    operator = {"X-API-Key": api_keys["operator"]}
    plan = httpx.post(
        f"{live_server}/api/v1/plans/from-template/2025-hazchem", headers=operator, timeout=30
    ).json()
    frozen = httpx.post(
        f"{live_server}/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
        headers=operator,
        timeout=30,
    ).json()
    public_id = frozen["public_id"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.goto(f"{live_server}/draws/{public_id}/ceremony")
        screen = page.inner_text("main")
        assert frozen["frame_hash"] in screen and all(w in screen for w in WITNESSES)
        # a locator, not a script: the page's policy allows no evaluated code
        page.locator(".countdown", has_text="秒").wait_for(timeout=5000)
        # the ceremony happens elsewhere; the screen shows the digits and the result by itself
        with httpx.Client(base_url=live_server, headers=operator, timeout=30) as api:
            done = reveal_dice(
                api, public_id, "16180339887498948482", WITNESSES, api_keys["witness"]
            ).json()
        page.wait_for_selector("[data-digits]", timeout=15_000)
        assert page.inner_text("[data-digits]") == "1618 0339 8874 9894 8482"
        names = {e.uscc: e.name for e in demo_pool().enterprises}
        first = done["result"]["strata"][0]["selected"][0]["key"]
        assert names[first] in page.inner_text("ol.drawn")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        browser.close()
