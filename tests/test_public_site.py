"""What a reader meets around the draw pages: enterprises, the verifier, errors, links, times."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo import demo_pool
from app.pools.demo_load import load_demo_pool
from tests.factories import ApiClient, beijing_today, dice_draw

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = {"X-API-Key": ""}
BROWSER = PUBLIC | {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def _demo(client: ApiClient, session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()


def _draw(client: ApiClient, template: str, digits: str) -> dict[str, Any]:
    plan = client.post(f"/api/v1/plans/from-template/{template}").json()
    return dice_draw(client, plan["id"], digits)


def test_an_enterprise_sees_every_draw_that_selected_it(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(client, session_factory)
    first = _draw(client, "2024-hazchem", "38274619283746529183")
    second = _draw(client, "2024-hazchem", "14142135623730950488")
    chosen = [
        {u["key"] for s in d["result"]["strata"] for u in s["selected"]} for d in (first, second)
    ]
    both = chosen[0] & chosen[1]
    code = sorted(both)[0] if both else sorted(chosen[0])[0]
    times = sum(code in c for c in chosen)
    client.post(
        f"/api/v1/draws/{first['public_id']}/outcomes",
        json={
            "uscc": code,
            "outcome": "no_problem",
            "inspected_on": beijing_today(),
            "publish": True,
        },
    )
    page = client.get(f"/enterprises/{code}", headers=PUBLIC)
    assert page.status_code == 200
    html = page.text
    name = next(e.name for e in demo_pool().enterprises if e.uscc == code)
    assert f"<h1>{name}</h1>" in html and code in html
    for draw, selected in zip((first, second), chosen, strict=True):
        assert (f'href="/draws/{draw["public_id"]}"' in html) == (code in selected)
    team = next(
        a["inspectors"]
        for a in first["result"]["assignments"]
        if a["unit"] == code  # the 2024 hazchem strata are not clustered
    )
    for cert in team:
        assert cert in html
    assert f"未发现问题（检查日 {beijing_today()}）" in html
    # a draw of the same month leaves out who was drawn already: was it in the second frame?
    frame = client.get(f"/api/v1/draws/{second['public_id']}/bundle").json()["frame"]
    framed = 1 + any(u["key"] == code for s in frame["strata"] for u in s["units"])
    # frozen this year (the test's today): counted this year and overall
    assert f"被抽中 {times} 次；本企业在 {framed} 次已出结果的抽查的抽查框架中" in html
    # the draw page links its enterprises here
    assert f'href="/enterprises/{code}"' in client.get(f"/draws/{first['public_id']}").text
    assert client.get("/enterprises/not-a-code", headers=PUBLIC).status_code == 404


def test_annulled_and_replacement_draws_link_each_other(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(client, session_factory)
    drawn = _draw(client, "2025-hazchem", "16180339887498948482")
    old = drawn["public_id"]
    annulled = client.post(
        f"/api/v1/draws/{old}/annul",
        json={"reason": "摇号现场停电，仪式中断", "decided_by": "局党委会议"},
    )
    assert annulled.status_code == 200, annulled.text
    # the replacement is a draw of the same plan, naming the annulled one
    new = client.post(
        f"/api/v1/plans/{drawn['plan_id']}/freeze",
        json={
            "seed": {
                "source": "dice",
                "ceremony_at": "2030-01-01T09:00:00Z",
                "witnesses": ["王见证（纪检监察组）", "李公证（公证处）"],
            },
            "replaces": old,
        },
    ).json()["public_id"]
    old_page = client.get(f"/draws/{old}", headers=PUBLIC).text
    new_page = client.get(f"/draws/{new}", headers=PUBLIC).text
    assert f'由 <a class="code" href="/draws/{new}">{new}</a> 替代' in old_page
    assert f'替代已撤销的 <a class="code" href="/draws/{old}">{old}</a>' in new_page
    # the ceremony announced for 2030-01-01 09:00 UTC reads as Beijing time, labelled
    assert "2030-01-01 17:00:00 北京时间" in new_page


def test_the_verifier_and_its_guide_are_on_the_site(
    client: ApiClient, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    verifier = client.get("/verify.py", headers=PUBLIC)
    assert verifier.status_code == 200
    assert verifier.content == (ROOT / "verifier" / "verify.py").read_bytes()
    assert 'filename="verify.py"' in verifier.headers["content-disposition"]
    bundled = client.get("/verifier.zip", headers=PUBLIC)
    assert bundled.status_code == 200 and bundled.content == client.get("/verifier.zip").content
    with zipfile.ZipFile(io.BytesIO(bundled.content)) as archive:
        assert archive.read("verify.py") == (ROOT / "verifier" / "verify.py").read_bytes()
        for path in (ROOT / "verifier" / "shuangsui_verify").glob("*.py"):
            assert archive.read(f"shuangsui_verify/{path.name}") == path.read_bytes()
    zipped = tmp_path / "verifier.zip"
    zipped.write_bytes(bundled.content)
    ran = subprocess.run(  # runs as it is downloaded, without the project
        [sys.executable, str(zipped), "missing.json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )
    assert ran.returncode == 2 and "cannot read the input" in ran.stdout, ran.stdout + ran.stderr
    guide = client.get("/verify", headers=PUBLIC)
    assert guide.status_code == 200 and guide.headers["content-type"].startswith("text/html")
    first_heading = (ROOT / "docs" / "verify.md").read_text().splitlines()[0].lstrip("# ")
    assert f"<h1>{first_heading}</h1>" in guide.text
    assert "<script" not in guide.text.split("<main>")[1]

    _demo(client, session_factory)
    public_id = _draw(client, "2025-hazchem", "16180339887498948482")["public_id"]
    page = client.get(f"/draws/{public_id}", headers=PUBLIC).text
    key = client.get("/api/v1/log/key").text.strip()
    assert 'href="/verifier.zip"' in page and 'href="/verify"' in page
    assert f"python verify.py {public_id}.json --key '{key}'" in page
    assert f'href="/api/v1/draws/{public_id}/proof.tlog-proof"' in page


def test_people_get_error_pages_and_the_api_keeps_problem_json(client: ApiClient) -> None:
    person = client.get("/draws/HY-2099-0001", headers=BROWSER)
    assert person.status_code == 404
    assert person.headers["content-type"].startswith("text/html")
    assert "未找到" in person.text and 'lang="zh-CN"' in person.text
    nowhere = client.get("/no/such/page", headers=BROWSER)
    assert nowhere.status_code == 404 and "没有这个地址" in nowhere.text
    for path, headers in (
        ("/api/v1/draws/HY-2099-0001", BROWSER),  # the API, even from a browser
        ("/draws/HY-2099-0001", PUBLIC),  # a client that does not ask for HTML
    ):
        machine = client.get(path, headers=headers)
        assert machine.status_code == 404
        assert machine.headers["content-type"] == "application/problem+json"
        assert machine.json()["code"] in ("not_found", "draw_not_found")


def test_times_on_the_log_page_are_beijing_time(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    _demo(client, session_factory)
    _draw(client, "2025-hazchem", "16180339887498948482")
    html = client.get("/log", headers=PUBLIC).text
    times = re.findall(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d\S*(?: 北京时间)?", html)
    assert times and all(t.endswith("北京时间") for t in times), times
