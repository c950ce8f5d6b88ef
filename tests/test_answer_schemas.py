"""Every JSON answer is typed with named schemas, and the answers really have
the shape those schemas give.

The document side walks /openapi.json: no 2xx application/json answer, nor
any field within it, may be an object without a named schema or a value of
no type; the few schemas that are open on purpose are listed here by hand.
The answer side runs real ceremonies (each template, drand, dice+drand, a
failed draw, an annulment, a postponement, a published outcome) and reads
every answer through its model: unknown fields are refused, and reading then
writing back gives the same JSON, so a schema that drifts from its answer
fails here.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from app.draws import beacon as quicknet
from app.draws import templates
from app.draws.answers import (
    Announcement,
    Annulment,
    DrawBundle,
    DrawFailure,
    DrawFairness,
    DrawResult,
    PlanPreview,
    Provenance,
    SeedDetail,
)
from app.draws.schemas import PlanSpec
from app.ledger.answers import ConsistencyProof, LogEntries, LogEntryWithProof
from app.schemas import ReferenceData
from tests import test_frames
from tests.factories import (
    WITNESSES,
    beijing_today,
    ceremony_time,
    create_inspector,
    reveal_dice,
    set_ceremony_clock,
)
from tests.test_ceremony_rules import RECORDED_BEACON, RECORDED_ROUND, Clock

DIGITS = "38274619283746529183"

# Named schemas that are open on purpose, and why.
OPEN_SCHEMAS = {
    "LogEntryBody": "a log entry's fields depend on its kind; the common ones are named",
    "RecordSnapshot": "a history entry holds the fields of the record's kind",
}


# -- the document ---------------------------------------------------------------------


def untyped_objects(document: dict[str, Any]) -> list[str]:
    """Where a 2xx JSON answer of `document` holds an object without a named
    schema, or a value of no type."""
    schemas = document.get("components", {}).get("schemas", {})
    problems: list[str] = []
    seen: set[str] = set()

    def named(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        schema = schemas[name]
        if "enum" in schema:
            return
        if schema.get("type") != "object":
            problems.append(f"{name}: a named schema that is not an object")
            return
        # Named fields, unknown ones ignored (no additionalProperties) or refused
        # (false) are a typed object; open to any field (true) only if listed.
        extra = schema.get("additionalProperties")
        if extra is True and name not in OPEN_SCHEMAS:
            problems.append(f"{name}: open to any field, but not listed as open")
        if not schema.get("properties") and name not in OPEN_SCHEMAS:
            problems.append(f"{name}: no properties")
        for prop, sub in schema.get("properties", {}).items():
            value(sub, f"{name}.{prop}")
        if isinstance(extra, dict):
            value(extra, f"{name}.*")

    def value(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            named(schema["$ref"].rsplit("/", 1)[-1])
            return
        alternatives = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
        if alternatives:
            for option in alternatives:
                value(option, where)
            return
        kind = schema.get("type")
        if kind is None and "enum" not in schema and "const" not in schema:
            problems.append(f"{where}: a value of no type")
        elif kind == "array":
            value(schema.get("items", {}), f"{where}[]")
        elif kind == "object":
            extra = schema.get("additionalProperties")
            if schema.get("properties") or not isinstance(extra, dict) or not extra:
                problems.append(f"{where}: an object without a named schema")
            else:
                value(extra, f"{where}.*")  # a typed map: {name: value}

    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json")
                if status.startswith("2") and content is not None:
                    value(content["schema"], f"{method.upper()} {path} {status}")
    return problems


def test_the_walk_finds_an_untyped_object() -> None:
    # The walk itself, on a document of one answer holding each kind of gap.
    answer = {
        "type": "object",
        "properties": {
            "free": {"type": "object", "additionalProperties": True},
            "anything": {},
            "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
    }
    document = {
        "paths": {
            "/x": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Answer"}
                                }
                            }
                        }
                    }
                }
            }
        },
        "components": {"schemas": {"Answer": answer}},
    }
    problems = untyped_objects(document)
    assert any(p.startswith("Answer.free:") for p in problems), problems
    assert any(p.startswith("Answer.anything:") for p in problems), problems
    assert not any("counts" in p for p in problems), problems
    assert not any(p.startswith("Answer:") for p in problems), problems
    answer["additionalProperties"] = True
    assert any(p.startswith("Answer: open to any field") for p in untyped_objects(document))
    inline = {
        "paths": {
            "/y": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {"a": {"type": "string"}},
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert untyped_objects(inline) == ["GET /y 200: an object without a named schema"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_json_answer_is_typed_with_named_schemas(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert untyped_objects(document) == []
    schemas = document["components"]["schemas"]
    for name in (
        "DrawBundle",
        "DrawResult",
        "DrawFairness",
        "PlanPreview",
        "SeedDetail",
        "DrawFailure",
        "Provenance",
        "PlanSpec",
        "LogEntries",
        "LogEntryWithProof",
        "ConsistencyProof",
        "ReferenceData",
    ):
        assert name in schemas, name

    def answer(method: str, path: str) -> str:
        schema = document["paths"][path][method]["responses"]
        content = next(r for s, r in schema.items() if s.startswith("2"))["content"]
        return str(content["application/json"]["schema"]["$ref"]).rsplit("/", 1)[-1]

    assert answer("get", "/api/v1/draws/{public_id}/bundle") == "DrawBundle"
    assert answer("get", "/api/v1/draws/{public_id}/fairness") == "DrawFairness"
    assert answer("get", "/api/v1/plans/{plan_id}/preview") == "PlanPreview"
    assert answer("get", "/api/v1/log/entries") == "LogEntries"
    assert answer("get", "/api/v1/log/entries/{index}") == "LogEntryWithProof"
    assert answer("get", "/api/v1/log/proof/consistency") == "ConsistencyProof"
    draw = schemas["DrawOut"]["properties"]
    assert draw["seed_detail"]["anyOf"][0] == {"$ref": "#/components/schemas/SeedDetail"}
    assert draw["result"]["anyOf"][0] == {"$ref": "#/components/schemas/DrawResult"}
    assert draw["provenance"] == {"$ref": "#/components/schemas/Provenance"}
    # statuses and outcomes are enums a client can switch on
    assert schemas["DrawStatus"]["enum"] == ["frozen", "done", "failed", "annulled"]
    assert draw["status"]["$ref"] == "#/components/schemas/DrawStatus"
    assert set(schemas["SourceName"]["enum"]) == {"dice", "drand", "dice+drand"}
    outcome = schemas["OutcomeOut"]["properties"]["outcome"]
    assert outcome["enum"] == ["no_problem", "rectify", "case_filed"]
    recorded = schemas["OutcomeCreate"]["properties"]["outcome"]  # codes or Chinese labels
    assert recorded["enum"] == [
        "no_problem",
        "rectify",
        "case_filed",
        "未发现问题",
        "责令限期整改",
        "立案查处",
    ]
    # The bundle names the witnesses whose cosignatures its checkpoint carries.
    cosignatures = schemas["BundleLog"]["properties"]["cosignatures"]
    assert cosignatures["items"] == {"$ref": "#/components/schemas/BundleCosignature"}
    assert set(schemas["BundleCosignature"]["required"]) == {"witness", "key_id", "timestamp"}


# -- the answers ----------------------------------------------------------------------


def read(model: type[BaseModel], answer: Any) -> None:
    """`answer` read through `model` (unknown fields refused) and written back unchanged."""
    assert model.model_validate(answer).model_dump(mode="json", exclude_unset=True) == answer


def read_draw(client: TestClient, public_id: str) -> dict[str, Any]:
    """A draw's answers: the draw, its bundle, its fairness, its log entries."""
    draw: dict[str, Any] = client.get(f"/api/v1/draws/{public_id}").json()
    read(Announcement, draw["announcement"])
    read(Provenance, draw["provenance"])
    for field, model in (
        ("seed_detail", SeedDetail),
        ("result", DrawResult),
        ("failure", DrawFailure),
        ("annulment", Annulment),
    ):
        if draw[field] is not None:
            read(model, draw[field])
    bundle = client.get(f"/api/v1/draws/{public_id}/bundle")
    assert bundle.status_code == 200
    read(DrawBundle, bundle.json())
    read(DrawFairness, client.get(f"/api/v1/draws/{public_id}/fairness").json())
    plan = client.get(f"/api/v1/plans/{draw['plan_id']}").json()
    assert PlanSpec.model_validate(plan["spec"]).model_dump(mode="json") == plan["spec"]
    read(PlanPreview, client.get(f"/api/v1/plans/{draw['plan_id']}/preview").json())
    for index in draw["log_entries"]:
        read(LogEntryWithProof, client.get(f"/api/v1/log/entries/{index}").json())
    return draw


def _plan(client: TestClient, key: str) -> int:
    response = client.post(f"/api/v1/plans/from-template/{key}")
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _freeze(client: TestClient, plan_id: int, seed: dict[str, Any]) -> str:
    response = client.post(f"/api/v1/plans/{plan_id}/freeze", json={"seed": seed})
    assert response.status_code == 201, response.text
    return str(response.json()["public_id"])


def _dice(hours: float = 0) -> dict[str, Any]:
    return {"source": "dice", "ceremony_at": ceremony_time(hours), "witnesses": WITNESSES}


def test_every_template_draw_reads_through_its_schemas(demo: TestClient) -> None:
    for key in sorted(templates.TEMPLATES):
        public_id = _freeze(demo, _plan(demo, key), _dice())
        assert reveal_dice(demo, public_id, DIGITS, WITNESSES).status_code == 200
        assert read_draw(demo, public_id)["status"] == "done", key
    # the last one annulled, then an outcome of another published
    annulled = demo.post(
        f"/api/v1/draws/{public_id}/annul",
        json={"reason": "抽中的企业已停业，经研究撤销", "decided_by": "局务会"},
    )
    assert annulled.status_code == 200, annulled.text
    assert read_draw(demo, public_id)["annulment"]["previous_status"] == "done"
    done = demo.get("/api/v1/draws", params={"status": "done"}).json()["items"][0]
    unit = done["units"][0]
    outcome = demo.post(
        f"/api/v1/draws/{done['public_id']}/outcomes",
        json={
            "uscc": unit["uscc"],
            "outcome": "rectify",
            "inspected_on": beijing_today(),
            "note": "责令整改",
            "publish": True,
        },
    )
    assert outcome.status_code == 201, outcome.text
    # the whole log, every kind of entry, in pages and with proofs of consistency
    entries = demo.get("/api/v1/log/entries", params={"start": 0, "end": 1000}).json()
    read(LogEntries, entries)
    kinds = {e["entry"]["kind"] for e in entries["entries"]}
    assert {"commitment", "seed", "result", "annulment", "inspection"} <= kinds, kinds
    size = entries["tree_size"]
    for first in (0, 1, size // 2, size):
        proof = demo.get("/api/v1/log/proof/consistency", params={"first": first, "second": size})
        read(ConsistencyProof, proof.json())
    read(ReferenceData, demo.get("/api/v1/reference").json())


def test_a_postponed_then_failed_draw_reads_through_its_schemas(client: TestClient) -> None:
    # test_frames' setting: a unit whose every inspector but one is recused fails the draw.
    station = test_frames._stations(client, 1)[0]
    for i in range(3):
        create_inspector(client, cert_no=f"HN-T-{i:04d}", name=f"检查员{i}号")
    for i in (0, 1):
        recused = client.post(
            "/api/v1/conflicts",
            json={
                "cert_no": f"HN-T-{i:04d}",
                "uscc": station["uscc"],
                "reason": "近亲属在该企业任职",
                "valid_from": "2024-01-01",
            },
        )
        assert recused.status_code == 201, recused.text
    plan_id = test_frames._plan(client, {"count": 1}, inspectors={"team_size": 2})
    public_id = _freeze(client, plan_id, _dice(hours=1))
    moved = client.post(
        f"/api/v1/draws/{public_id}/reschedule",
        json={"ceremony_at": ceremony_time(), "reason": "见证人临时出差，仪式提前"},
    )
    assert moved.status_code == 200, moved.text
    assert reveal_dice(client, public_id, DIGITS, WITNESSES).json()["status"] == "failed"
    draw = read_draw(client, public_id)
    assert draw["failure"]["error"] == "team_incomplete"


def test_beacon_seeds_read_through_their_schemas(
    demo: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    round_time = quicknet.round_time(RECORDED_ROUND)
    # drand alone: the recorded round is the one announced two minutes before it
    clock = Clock(round_time - timedelta(seconds=120))
    set_ceremony_clock(monkeypatch, clock)
    drand = _freeze(demo, _plan(demo, "2025-training"), {"source": "drand", "delay_seconds": 120})
    clock.now = round_time + timedelta(seconds=5)
    seeded = demo.post(f"/api/v1/draws/{drand}/seed", json=RECORDED_BEACON)
    assert seeded.status_code == 200, seeded.text
    assert read_draw(demo, drand)["seed_detail"]["round"] == RECORDED_ROUND
    # dice, then the round after the ceremony
    ceremony = round_time - timedelta(minutes=30)
    clock.now = ceremony - timedelta(minutes=10)
    both = _freeze(
        demo,
        _plan(demo, "2024-training"),
        {
            "source": "dice+drand",
            "ceremony_at": ceremony.isoformat(),
            "witnesses": WITNESSES,
            "round_delay_seconds": 1800,
        },
    )
    clock.now = ceremony + timedelta(minutes=1)
    assert reveal_dice(demo, both, DIGITS, WITNESSES).status_code == 200
    assert read_draw(demo, both)["awaiting_beacon"] is True
    clock.now = round_time + timedelta(seconds=3)
    done = demo.post(f"/api/v1/draws/{both}/seed", json=RECORDED_BEACON)
    assert done.status_code == 200, done.text
    draw = read_draw(demo, both)
    assert draw["seed_detail"]["beacon"]["round"] == RECORDED_ROUND
    assert draw["announcement"]["round_delay_seconds"] == 1800
