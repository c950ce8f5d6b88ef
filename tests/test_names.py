"""One name, one meaning inside; the public names unchanged outside.

App code calls a county's code `county_code` and an inspector's unit its
`organisation`; the API, the files and history still say `county` and `unit`.
A client that guesses the inside names gets no door: they are refused as
unknown fields, and no answer carries them. The StrEnums of the closed
vocabularies hold exactly the values the specs and the API name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import get_args

from fastapi.testclient import TestClient

from app.draws.listing import DrawStatusName
from app.draws.status import DrawStatus
from app.ledger.kinds import EntryKind
from app.ledger.store import entry_bytes
from tests.factories import create_enterprise, create_inspector, enterprise_body, inspector_body
from tests.test_algorithm_vectors import SPEC_DIR

INSIDE_NAMES = {"county_code", "organisation"}


def _keys(value: object) -> set[str]:
    """Every key of a JSON answer, at any depth."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_the_log_entry_kinds_are_the_specs() -> None:
    table = (Path(SPEC_DIR) / "transparency-log.md").read_text(encoding="utf-8")
    kinds = set(re.findall(r"^\| `([a-z+]+)` \|", table, flags=re.MULTILINE))
    assert kinds >= {"commitment", "seed", "result", "failure", "annulment"}
    assert {str(k) for k in EntryKind} == kinds


def test_an_entry_kind_is_its_text_in_the_logs_bytes() -> None:
    entry = {"kind": EntryKind.SEED, "at": "2025-06-18T02:00:00Z", "draw": "D1", "seed": "1"}
    assert entry_bytes(entry) == entry_bytes(entry | {"kind": "seed"})
    assert b'"kind":"seed"' in entry_bytes(entry)


def test_the_draw_list_filter_offers_exactly_the_stored_states() -> None:
    assert set(get_args(DrawStatusName)) == {"frozen", "done", "failed", "annulled"}
    assert {str(s) for s in DrawStatus} == set(get_args(DrawStatusName))


def test_the_inside_names_are_no_public_fields(client: TestClient) -> None:
    body = enterprise_body()
    county = body.pop("county")
    refused = client.post("/api/v1/enterprises", json=body | {"county_code": "430422"})
    assert refused.status_code == 422
    fields = {tuple(e["loc"]) for e in refused.json()["errors"]}
    assert {("body", "county_code"), ("body", "county")} <= fields
    both = client.post("/api/v1/enterprises", json=body | {"county": county, "county_code": "x"})
    assert both.status_code == 422
    inspector = inspector_body()
    unit = inspector.pop("unit")
    refused = client.post("/api/v1/inspectors", json=inspector | {"organisation": unit})
    assert refused.status_code == 422
    assert ("body", "organisation") in {tuple(e["loc"]) for e in refused.json()["errors"]}


def test_the_inside_names_are_no_query_parameters(client: TestClient) -> None:
    create_enterprise(client)
    create_inspector(client)
    assert client.get("/api/v1/enterprises?county_code=430422").status_code == 422
    assert client.get("/api/v1/inspectors?organisation=执法支队").status_code == 422
    assert client.get("/api/v1/enterprises?county=430422").json()["total"] == 1
    assert client.get("/api/v1/enterprises?county=430405").json()["total"] == 0
    assert client.get("/api/v1/inspectors?unit=执法支队").json()["total"] == 1
    assert client.get("/api/v1/inspectors?unit=危化烟花科").json()["total"] == 0


def test_no_answer_carries_an_inside_name(client: TestClient) -> None:
    enterprise = create_enterprise(client)
    inspector = create_inspector(client)
    assert (enterprise["county"], enterprise["county_name"]) == ("430422", "衡南县")
    assert (inspector["unit"], inspector["county"]) == ("执法支队", "430407")
    client.patch(
        f"/api/v1/inspectors/{inspector['id']}", json={"unit": "危化烟花科", "version": 1}
    ).raise_for_status()
    answers = [
        client.get("/api/v1/enterprises").json(),
        client.get(f"/api/v1/enterprises/{enterprise['id']}").json(),
        client.get("/api/v1/inspectors").json(),
        client.get("/api/v1/reference").json(),
    ]
    for answer in answers:
        assert not _keys(answer) & INSIDE_NAMES, answer
    # History has always named a record's fields by their columns.
    history = client.get(f"/api/v1/inspectors/{inspector['id']}/history").json()["items"]
    assert set(history[-1]["after"]) >= {"unit", "county_code"}
    assert "organisation" not in _keys(history)
    assert (history[-1]["before"]["unit"], history[-1]["after"]["unit"]) == (
        "执法支队",
        "危化烟花科",
    )
    units = {u["name"]: u for u in answers[3]["units"]}
    assert units["衡南县应急管理局"]["county"] == "430422"
    assert units["执法支队"]["county"] is None
