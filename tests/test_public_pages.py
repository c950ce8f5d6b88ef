"""The public pages: what was drawn, by whom, how to verify — and nothing private."""

from __future__ import annotations

import io
import re
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.pools.demo import demo_pool
from app.pools.demo_load import load_demo_pool
from app.public import views
from tests.factories import ceremony_time, reveal_dice

WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


def test_draw_pages_show_the_draw_and_nothing_private(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post("/api/v1/plans/from-template/2024-hazchem").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={
            "seed": {
                "source": "dice",
                "ceremony_at": ceremony_time(),
                "witnesses": WITNESSES,
            }
        },
    ).json()
    public_id = frozen["public_id"]
    pending = client.get(f"/draws/{public_id}")
    assert pending.status_code == 200
    assert "已冻结，待摇号" in pending.text
    assert frozen["frame_hash"] in pending.text
    done = reveal_dice(client, public_id, "38274619283746529183", WITNESSES).json()

    page = client.get(f"/draws/{public_id}")
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    pool = demo_pool()
    names = {e.uscc: e.name for e in pool.enterprises}
    inspectors = {i.cert_no: i for i in pool.inspectors}
    for stratum in done["result"]["strata"]:
        for unit in stratum["selected"]:
            assert names[unit["key"]] in html
    for assignment in done["result"]["assignments"]:
        for cert in assignment["inspectors"]:
            assert f'{inspectors[cert].name}（<span class="code">{cert}</span>）' in html
    assert "抽取 3 家" in html and "每个县市区抽取 1 家，先随机抽取 10 个县市区" in html
    assert done["seed"] in html
    assert f"/api/v1/draws/{public_id}/bundle" in html
    # 20 working days after 2024-05-31 by the official calendar (端午 on 06-10), long past
    assert "检查结果应已于 2024-07-01 前公开" in html
    assert "逾期未公开" in html

    csv_rows = client.get(f"/draws/{public_id}.csv").content.decode("utf-8-sig").splitlines()
    assert csv_rows[0].startswith("抽查编号,抽查,分层,企业名称")
    assert len(csv_rows) == 1 + 22
    xlsx = client.get(f"/draws/{public_id}.xlsx")
    assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    notice = client.get(f"/draws/{public_id}.pdf")
    assert notice.headers["content-type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(notice.content))
    text = "".join(page.extract_text() for page in reader.pages)
    assert "双随机、一公开" in text.replace(" ", "")
    first = done["result"]["strata"][0]["selected"][0]["key"]
    assert names[first] in text.replace("\n", "")
    fonts = {
        str(font.get_object()["/BaseFont"])
        for page in reader.pages
        for font in page["/Resources"]["/Font"].values()
    }
    assert any("CJK" in f for f in fonts), fonts  # the CJK font the set-up installs is embedded

    listing = client.get("/").text
    assert public_id in listing and "已出结果" in listing
    log_page = client.get("/log").text
    assert "承诺（冻结框架）" in log_page and "localhost/tlog" in log_page

    phones = {i.phone for i in pool.inspectors}
    reasons = {c.reason for c in pool.conflicts}
    addresses = {e.address for e in pool.enterprises}
    drawn_codes = [u["key"] for s in done["result"]["strata"] for u in s["selected"]]
    # the directory is not public: an enterprise no draw selected has no page
    undrawn = next(e.uscc for e in pool.enterprises if e.uscc not in drawn_codes)
    assert client.get(f"/enterprises/{undrawn}").status_code == 404
    for path in (
        "/",
        "/draws",
        f"/draws/{public_id}",
        f"/draws/{public_id}.csv",
        f"/draws/{public_id}/bundle.json",
        "/log",
        "/verify",
        *(f"/enterprises/{code}" for code in drawn_codes),
        f"/api/v1/draws/{public_id}",
        f"/api/v1/draws/{public_id}/bundle",
        "/api/v1/log/entries",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.text
        assert not any(p in body for p in phones), path
        assert not any(r in body for r in reasons), path
        assert not any(a in body for a in addresses), path
        assert not re.search(
            r"https?://(?!127\.0\.0\.1|testserver)",
            body.split("<main>")[0] if "<main>" in body else "",
        ), path


def test_unknown_draw_page_is_404(client: TestClient) -> None:
    assert client.get("/draws/HY-2099-0001").status_code == 404


def test_a_public_page_is_rendered_once_per_log_size(
    client: TestClient, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    renders: list[int] = []
    original = views.draw_list

    def counted(session: Session) -> list[dict[str, Any]]:
        renders.append(1)
        return original(session)

    monkeypatch.setattr(views, "draw_list", counted)
    public = {"X-API-Key": ""}  # as the public: no key
    first = client.get("/draws", headers=public)
    assert client.get("/draws", headers=public).text == first.text
    assert len(renders) == 1
    assert client.get("/draws").status_code == 200  # with a key: the policy runs, every time
    assert len(renders) == 2
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()
    # the commitment grew the log: the list is drawn again and shows the new draw
    after = client.get("/draws", headers=public)
    assert len(renders) == 3
    assert frozen["public_id"] in after.text and frozen["public_id"] not in first.text
