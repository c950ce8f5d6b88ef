"""Limits on what a request may carry, and text that must survive intact."""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Iterator

import openpyxl
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.factories import ApiClient, create_enterprise, enterprise_body, uscc


def test_an_oversized_json_body_is_refused_before_it_is_read(client: ApiClient) -> None:
    body = enterprise_body(address="长" * (600 * 1024))  # about 1.8 MB as UTF-8
    response = client.post("/api/v1/enterprises", json=body)
    assert response.status_code == 413
    problem = response.json()
    assert problem["code"] == "payload_too_large" and "1 MB" in problem["detail"]
    assert client.get("/api/v1/enterprises").json()["total"] == 0


def test_a_streamed_body_is_cut_off_at_the_limit(client: ApiClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(300):
            yield b"x" * 4096
        yield b'"}'

    response = client.post(
        "/api/v1/enterprises", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"


def test_an_oversized_upload_is_refused(settings: Settings, api_keys: dict[str, str]) -> None:
    small = settings.model_copy(update={"max_upload_bytes": 10_000})
    with ApiClient(create_app(small), api_keys) as client:
        big = b"x" * 200_000
        response = client.post("/api/v1/enterprises/import", files={"file": ("大.csv", big)})
        assert response.status_code == 413
        assert "上传文件" in response.json()["detail"]


def test_page_size_and_string_lengths_are_bounded(client: ApiClient) -> None:
    too_many = client.get("/api/v1/enterprises", params={"page_size": 100_000})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["loc"] == ["query", "page_size"]
    long_name = client.post("/api/v1/enterprises", json=enterprise_body(name="企" * 201))
    assert long_name.status_code == 422
    error = long_name.json()["errors"][0]
    assert error["loc"] == ["body", "name"] and "最多 200 个字符" in error["message"]
    huge_id = client.get(f"/api/v1/enterprises/{2**70}")
    assert huge_id.status_code == 422
    nul = client.get("/api/v1/enterprises", params={"q": "加油\x00站"})
    assert nul.status_code in (200, 422)  # never a server error, on either database


# Rare but real characters in names: a CJK Extension B character, a
# compatibility ideograph, a combining mark, full-width forms, an emoji.
NAMES = [
    "𠀾𡈼化工有限公司",
    "衡阳市﨑岖矿业有限公司",
    "Cafe\u0301 衡阳店",
    "ＡＢＣ（衡阳）加油站",
    "衡东县🔥烟花爆竹经营部",
]


def test_any_unicode_name_survives_every_round_trip(client: TestClient) -> None:
    for serial, name in enumerate(NAMES, start=1):
        create_enterprise(client, uscc=uscc(serial=serial), name=name)
    listed = [e["name"] for e in client.get("/api/v1/enterprises").json()["items"]]
    # Stored in NFC: the combining accent is composed, nothing else changes.
    assert listed == [unicodedata.normalize("NFC", name) for name in NAMES]
    assert listed[2] == "Café 衡阳店" and listed[1] == NAMES[1]
    stored = listed
    csv_text = client.get("/api/v1/enterprises/export?format=csv").content.decode("utf-8-sig")
    assert all(name in csv_text for name in stored)
    xlsx = client.get("/api/v1/enterprises/export?format=xlsx").content
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx)).worksheets[0]
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == stored
    again = client.post("/api/v1/enterprises/import", files={"file": ("导出.xlsx", xlsx)})
    assert again.status_code == 200, again.text
    assert again.json()["unchanged"] == len(NAMES)
    found = client.get("/api/v1/enterprises", params={"q": "𡈼"}).json()["items"]
    assert [e["name"] for e in found] == [NAMES[0]]
