"""Clean text everywhere: what goes into records, pages and the public log is NFC,
trimmed, and hides no control, bidi override or unpaired surrogate; each
violation is a 422 naming the field (or the row and column), never a 500."""

from __future__ import annotations

import itertools
import json
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.text import UncleanText, clean_text
from tests.factories import ApiClient, create_enterprise, enterprise_body, uscc
from tests.test_import import _count, _csv, _row, _upload

UNCLEAN = {
    "bell": "衡南\x07加油站",
    "cr-lf": "衡南\r\n加油站",
    "nul": "衡南\x00加油站",
    "c1": "衡南\x85加油站",
    "rlo": "衡南\u202e站油加",
    "isolate": "衡南\u2066加油站\u2069",
    "rlm": "衡南\u200f加油站",
    "surrogate": "衡南\ud800加油站",
}


@pytest.mark.parametrize("name", sorted(UNCLEAN))
def test_clean_text_refuses(name: str) -> None:
    with pytest.raises(UncleanText):
        clean_text(UNCLEAN[name])


def test_clean_text_normalises_and_trims() -> None:
    assert clean_text("  Cafe\u0301\u3000") == "Café"
    assert clean_text("第一行\r\n\t第二行 ", multiline=True) == "第一行\n\t第二行"
    with pytest.raises(UncleanText):
        clean_text("第一行\n第二行")  # a single-line field
    with pytest.raises(UncleanText):
        clean_text("行\x0b", multiline=True)


@pytest.mark.parametrize("name", sorted(set(UNCLEAN) - {"surrogate"}))
def test_an_unclean_name_is_a_422_naming_the_field(client: ApiClient, name: str) -> None:
    response = client.post("/api/v1/enterprises", json=enterprise_body(name=UNCLEAN[name]))
    assert response.status_code == 422, response.text
    (error,) = response.json()["errors"]
    assert error["loc"] == ["body", "name"]
    assert "字符" in error["message"]
    assert client.get("/api/v1/enterprises").json()["total"] == 0


def test_a_plan_title_and_witnesses_must_be_clean(client: ApiClient) -> None:
    plan = client.post("/api/v1/plans/from-template/2025-training")
    assert plan.status_code in (200, 201), plan.text
    response = client.patch(f"/api/v1/plans/{plan.json()['id']}", json={"title": "年度\u202e计划"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", "title"]


def test_multi_line_fields_keep_their_lines(client: ApiClient) -> None:
    enterprise = create_enterprise(client)
    response = client.post(
        "/api/v1/inspections",
        json={
            "uscc": enterprise["uscc"],
            "inspected_on": "2025-06-18",
            "kind": "county",
            "source": "衡南县应急管理局",
            "note": "一、现场检查\r\n二、\t整改",
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["note"] == "一、现场检查\n二、\t整改"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "ab\\ud800cd"}',  # in a value
        b'{"name": "ok", "\\udfff": 1}',  # in a key
        b'{"name": "ok", "tags": ["\\uDBFF"]}',  # in a list, upper case
        b'{"name": "ok", "page": "\\ud800"}',  # in a field that is not even a string
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400(client: ApiClient, body: bytes) -> None:
    fields = json.loads(body)  # the test's own check that the body is valid JSON
    assert fields
    response = client.post(
        "/api/v1/enterprises", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "lone_surrogate" and "代理项" in problem["detail"]
    assert client.get("/api/v1/enterprises").json()["total"] == 0


def test_a_paired_surrogate_escape_is_an_ordinary_character(client: ApiClient) -> None:
    body = json.dumps(enterprise_body(name="衡东县🔥烟花爆竹经营部"), ensure_ascii=True).encode()
    assert b"\\ud83d\\udd25" in body
    response = client.post(
        "/api/v1/enterprises", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "衡东县🔥烟花爆竹经营部"


def test_an_imported_cell_must_be_clean_too(client: ApiClient) -> None:
    rows = [_row(1), _row(2, 企业名称="示例\u202e企业"), _row(3, 地址="衡南县\x1b路")]
    response = _upload(client, _csv(rows))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["column"][:1]) for e in errors] == [(3, "B"), (4, "H")]
    assert _count(client) == 0


# Text of any code point, lone surrogates and controls included (hypothesis's
# text() leaves surrogates out, which is how Schemathesis missed them).
ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()),
    st.integers(0xD800, 0xDFFF).map(chr),
    st.sampled_from(["\x00", "\x1b", "\x85", "\u202e", "\u2066", "\r", "\n", "\t"]),
)


SERIALS = itertools.count(1000)


@given(name=st.text(ANY_CHARACTER, min_size=1, max_size=12))
@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_any_name_is_stored_clean_or_refused_never_a_500(client: ApiClient, name: str) -> None:
    serial = next(SERIALS)  # a new enterprise each time, so each clean name is stored
    fields = enterprise_body(name=f"测试{name}企业", uscc=uscc(serial=serial))
    body = json.dumps(fields, ensure_ascii=True).encode()
    response = client.post(
        "/api/v1/enterprises", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (201, 400, 422), response.text
    sent = json.loads(body)["name"]  # a high and a low surrogate in a row are one character
    if any("\ud800" <= c <= "\udfff" for c in sent):
        assert response.status_code == 400
    elif response.status_code == 201:
        stored = response.json()["name"]
        assert stored == clean_text(stored) == unicodedata.normalize("NFC", stored)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (
            "/api/v1/plans/{plan}/freeze",
            {
                "seed": {
                    "source": "dice",
                    "ceremony_at": "2030-01-01T09:30:00",
                    "witnesses": ["甲某", "乙某"],
                }
            },
        ),
        (
            "/api/v1/keys",
            {"name": "某系统", "role": "operator", "expires_at": "2030-01-01T00:00:00"},
        ),
    ],
)
def test_a_time_without_an_offset_is_a_422(
    client: ApiClient, path: str, body: dict[str, object]
) -> None:
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    headers = {"X-API-Key": client.keys["admin"]} if "keys" in path else {}
    response = client.post(path.format(plan=plan["id"]), json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert "时区" in response.json()["errors"][0]["message"]
