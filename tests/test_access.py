"""Who may do what: every route, every role, and the keys that carry the roles."""

from __future__ import annotations

import hashlib
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import openpyxl
import pypdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.access.models import ApiKey
from app.cli import cli
from app.draws.models import Plan
from app.pools.demo import demo_pool
from app.pools.demo_load import load_demo_pool
from app.routing import api_routes
from tests.factories import ApiClient, beijing_today, ceremony_time, log_kinds, reveal_dice

PUBLIC = {"public", "admin", "operator", "witness", "auditor"}
STAFF = {"admin", "operator", "auditor"}
OPERATOR = {"operator"}
WITNESS = {"witness"}
ADMIN = {"admin"}
OVERSIGHT = {"admin", "auditor"}

# The access matrix, written out by hand: a new route must be added here.
MATRIX: dict[tuple[str, str], set[str]] = {
    # public pages and the public log
    ("GET", "/"): PUBLIC,
    ("GET", "/draws"): PUBLIC,
    ("GET", "/draws/{public_id}"): PUBLIC,
    ("GET", "/draws/{public_id}.csv"): PUBLIC,
    ("GET", "/draws/{public_id}.xlsx"): PUBLIC,
    ("GET", "/draws/{public_id}.pdf"): PUBLIC,
    ("GET", "/draws/{public_id}/bundle.json"): PUBLIC,
    ("GET", "/draws/{public_id}/ceremony"): PUBLIC,
    ("GET", "/log"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/verify"): PUBLIC,
    ("GET", "/verify.py"): PUBLIC,
    ("GET", "/verifier.zip"): PUBLIC,
    ("GET", "/enterprises/{uscc}"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/api/v1/log/checkpoint"): PUBLIC,
    ("GET", "/api/v1/log/key"): PUBLIC,
    ("GET", "/api/v1/log/entries"): PUBLIC,
    ("GET", "/api/v1/log/entries/{index}"): PUBLIC,
    ("GET", "/api/v1/log/proof/consistency"): PUBLIC,
    ("GET", "/tlog/checkpoint"): PUBLIC,
    ("GET", "/tlog/tile/{path}"): PUBLIC,
    ("GET", "/api/v1/reference"): PUBLIC,
    # draws are public from their commitment on
    ("GET", "/api/v1/draws"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}/bundle"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}/proof"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}/proof.tlog-proof"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}/fairness"): PUBLIC,
    ("GET", "/api/v1/draws/{public_id}/history"): STAFF,
    ("GET", "/api/v1/draws/{public_id}/outcomes"): STAFF,
    ("POST", "/api/v1/draws/{public_id}/outcomes"): OPERATOR,
    ("POST", "/api/v1/draws/{public_id}/outcomes/{uscc}/publish"): OPERATOR,
    ("POST", "/api/v1/draws/{public_id}/seed"): OPERATOR,
    ("POST", "/api/v1/draws/{public_id}/seed/confirm"): WITNESS,
    ("POST", "/api/v1/draws/{public_id}/seed/withdraw"): OPERATOR,
    ("POST", "/api/v1/draws/{public_id}/reschedule"): OPERATOR,
    ("POST", "/api/v1/draws/{public_id}/annul"): OPERATOR,
    # plans are drafts until frozen: staff only
    ("GET", "/api/v1/plans"): STAFF,
    ("POST", "/api/v1/plans"): OPERATOR,
    ("GET", "/api/v1/plan-templates"): STAFF,
    ("POST", "/api/v1/plans/from-template/{key}"): OPERATOR,
    ("GET", "/api/v1/plans/{plan_id}"): STAFF,
    ("PATCH", "/api/v1/plans/{plan_id}"): OPERATOR,
    ("GET", "/api/v1/plans/{plan_id}/history"): STAFF,
    ("GET", "/api/v1/plans/{plan_id}/preview"): STAFF,
    ("POST", "/api/v1/plans/{plan_id}/freeze"): OPERATOR,
    # the directories: private fields, so staff only
    ("GET", "/api/v1/enterprises"): STAFF,
    ("POST", "/api/v1/enterprises"): OPERATOR,
    ("GET", "/api/v1/enterprises/by-uscc/{uscc}"): STAFF,
    ("GET", "/api/v1/enterprises/export"): STAFF,
    ("POST", "/api/v1/enterprises/import"): OPERATOR,
    ("GET", "/api/v1/enterprises/import/template.xlsx"): STAFF,
    ("GET", "/api/v1/enterprises/{enterprise_id}"): STAFF,
    ("PATCH", "/api/v1/enterprises/{enterprise_id}"): OPERATOR,
    ("GET", "/api/v1/enterprises/{enterprise_id}/history"): STAFF,
    ("GET", "/api/v1/enterprises/{enterprise_id}/inspections"): STAFF,
    ("POST", "/api/v1/enterprises/{enterprise_id}/retire"): OPERATOR,
    ("POST", "/api/v1/enterprises/{enterprise_id}/restore"): OPERATOR,
    ("GET", "/api/v1/inspectors"): STAFF,
    ("POST", "/api/v1/inspectors"): OPERATOR,
    ("GET", "/api/v1/inspectors/export"): STAFF,
    ("POST", "/api/v1/inspectors/import"): OPERATOR,
    ("GET", "/api/v1/inspectors/import/template.xlsx"): STAFF,
    ("GET", "/api/v1/inspectors/{inspector_id}"): STAFF,
    ("PATCH", "/api/v1/inspectors/{inspector_id}"): OPERATOR,
    ("GET", "/api/v1/inspectors/{inspector_id}/history"): STAFF,
    ("POST", "/api/v1/inspectors/{inspector_id}/retire"): OPERATOR,
    ("GET", "/api/v1/conflicts"): STAFF,
    ("POST", "/api/v1/conflicts"): OPERATOR,
    ("GET", "/api/v1/conflicts/{conflict_id}"): STAFF,
    ("PATCH", "/api/v1/conflicts/{conflict_id}"): OPERATOR,
    ("GET", "/api/v1/conflicts/{conflict_id}/history"): STAFF,
    ("GET", "/api/v1/inspections"): STAFF,
    ("POST", "/api/v1/inspections"): OPERATOR,
    ("GET", "/api/v1/inspections/export"): STAFF,
    ("POST", "/api/v1/inspections/import"): OPERATOR,
    ("GET", "/api/v1/inspections/import/template.xlsx"): STAFF,
    # keys: the admin's
    ("GET", "/api/v1/keys"): OVERSIGHT,
    ("POST", "/api/v1/keys"): ADMIN,
    ("POST", "/api/v1/keys/{key_ref}/revoke"): ADMIN,
}
# Operations endpoints every monitor may reach.
OPS = {("GET", "/healthz"): PUBLIC, ("GET", "/readyz"): PUBLIC, ("GET", "/metrics"): PUBLIC}
ROLES = ["public", "admin", "operator", "witness", "auditor"]
# Values for path parameters that name nothing: allowed callers get 404/422, never a change.
PARAMS = {"enterprise_id": "999999", "inspector_id": "999999", "conflict_id": "999999"}
PARAMS |= {"plan_id": "999999", "index": "999999", "key_ref": "999999", "key": "no-such"}
PARAMS |= {"public_id": "HY-2099-999", "uscc": "91430400MA4L000000", "path": "0/x999/000"}


def _routes(client: ApiClient) -> set[tuple[str, str]]:
    found = set()
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        found |= {(m, route.path_format) for m in route.methods - {"HEAD"}}
    return found


def test_every_route_is_in_the_matrix(client: ApiClient) -> None:
    routes = _routes(client)
    expected = set(MATRIX) | {k for k in OPS if k in routes}
    assert routes == expected, (
        f"routes without a policy in this table: {sorted(routes - expected)}; "
        f"table rows without a route: {sorted(expected - routes)}"
    )
    documented = {
        (method.upper(), path)
        for path, ops in client.get("/openapi.json").json()["paths"].items()
        for method in ops
    }
    assert documented <= routes


@pytest.mark.parametrize("role", ROLES)
def test_the_matrix_holds_for_every_route(client: ApiClient, role: str) -> None:
    for method, path in sorted(_routes(client)):
        allowed = (MATRIX | OPS)[(method, path)]
        url = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], path)
        body = {"json": {}} if method in ("POST", "PATCH") else {}
        response = client.request(method, url, headers=client.as_role(role), **body)
        if role in allowed:
            assert response.status_code not in (401, 403), (role, method, path, response.text)
        else:
            expected = 401 if role == "public" else 403
            assert response.status_code == expected, (role, method, path, response.text)
            problem = response.json()
            assert problem["code"] in ("api_key_required", "role_not_allowed")
            assert problem["detail"]  # says which roles may


def test_a_bad_key_is_refused_even_where_the_public_may_read(client: ApiClient) -> None:
    response = client.get("/api/v1/draws", headers={"X-API-Key": "ssk_00000000_forged"})
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert client.get("/api/v1/draws", headers=client.as_role("public")).status_code == 200


def test_admin_issues_keys_shown_once_and_stored_as_hash(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    admin = client.as_role("admin")
    created = client.post(
        "/api/v1/keys", json={"name": "省执法系统", "role": "operator"}, headers=admin
    )
    assert created.status_code == 201, created.text
    issued = created.json()
    secret = issued["secret"]
    assert secret.startswith("ssk_" + issued["prefix"] + "_") and len(secret) > 40
    listed = client.get("/api/v1/keys", headers=client.as_role("auditor")).json()["items"]
    assert secret not in str(listed)
    mine = next(k for k in listed if k["prefix"] == issued["prefix"])
    assert mine["status"] == "active" and mine["last_used_at"] is None
    with session_factory() as session:
        row = session.scalars(select(ApiKey).where(ApiKey.prefix == issued["prefix"])).one()
        assert row.secret_sha256 == hashlib.sha256(secret.encode()).hexdigest()
        assert secret not in str([getattr(row, c.key) for c in ApiKey.__table__.columns])

    # the new key works, as an operator, and its use is recorded
    plan = client.post(
        "/api/v1/plans/from-template/2025-training",
        headers={"X-API-Key": secret, "X-Actor": "%E5%BC%A0%E4%B8%89"},
    )
    assert plan.status_code == 201, plan.text
    assert plan.json()["created_by"] == "张三（省执法系统）"
    used = next(
        k
        for k in client.get("/api/v1/keys", headers=admin).json()["items"]
        if k["id"] == mine["id"]
    )
    assert used["last_used_at"] is not None

    revoked = client.post(f"/api/v1/keys/{issued['prefix']}/revoke", headers=admin)
    assert revoked.json()["status"] == "revoked"
    assert revoked.json()["revoked_by"] == "测试管理员"
    refused = client.get("/api/v1/plans", headers={"X-API-Key": secret})
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_revoked"
    again = client.post(f"/api/v1/keys/{issued['prefix']}/revoke", headers=admin)
    assert again.status_code == 409


def test_expired_keys_are_refused(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    admin = client.as_role("admin")
    past = client.post(
        "/api/v1/keys",
        json={"name": "过期", "role": "auditor", "expires_at": "2020-01-01T00:00:00Z"},
        headers=admin,
    )
    assert past.status_code == 422 and past.json()["code"] == "expiry_in_past"
    soon = datetime.now(UTC) + timedelta(days=1)
    issued = client.post(
        "/api/v1/keys",
        json={"name": "临时审计", "role": "auditor", "expires_at": soon.isoformat()},
        headers=admin,
    ).json()
    assert client.get("/api/v1/plans", headers={"X-API-Key": issued["secret"]}).status_code == 200
    with session_factory() as session:
        row = session.get(ApiKey, issued["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.commit()
    refused = client.get("/api/v1/plans", headers={"X-API-Key": issued["secret"]})
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_expired"


def test_keys_from_the_command_line(
    client: ApiClient, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.config import get_settings

    monkeypatch.setenv("SHUANGSUI_DATABASE_URL", settings.resolved_database_url)  # type: ignore[attr-defined]
    monkeypatch.setenv("SHUANGSUI_DATA_DIR", str(settings.data_dir))  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        made = runner.invoke(cli, ["keys", "create", "--role", "witness", "--name", "公证处"])
        assert made.exit_code == 0, made.output
        secret = made.output.strip().splitlines()[-1]
        assert secret.startswith("ssk_")
        assert "公证处" in runner.invoke(cli, ["keys", "list"]).output
        # a witness may not read the directories, but is known to the service
        assert client.get("/api/v1/enterprises", headers={"X-API-Key": secret}).status_code == 403
        prefix = secret.split("_")[1]
        assert runner.invoke(cli, ["keys", "revoke", prefix]).exit_code == 0
        assert client.get("/", headers={"X-API-Key": secret}).status_code == 401
        bad = runner.invoke(cli, ["keys", "create", "--role", "boss", "--name", "x"])
        assert bad.exit_code != 0
    finally:
        get_settings.cache_clear()


WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
DIGITS = "27182818284590452353"


def _frozen(client: ApiClient, session_factory: sessionmaker[Session]) -> str:
    with session_factory() as session:
        load_demo_pool(session)
        session.commit()
    plan = client.post("/api/v1/plans/from-template/2025-training").json()
    frozen = client.post(
        f"/api/v1/plans/{plan['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    )
    assert frozen.status_code == 201, frozen.text
    public_id: str = frozen.json()["public_id"]
    return public_id


def test_a_witness_must_confirm_the_digits(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    public_id = _frozen(client, session_factory)
    witness = client.as_role("witness") | {"X-Actor": quote(WITNESSES[0])}
    confirm = f"/api/v1/draws/{public_id}/seed/confirm"
    early = client.post(confirm, json={"digits": DIGITS}, headers=witness)
    assert early.status_code == 409 and early.json()["code"] == "no_seed_entry"

    entered = client.post(
        f"/api/v1/draws/{public_id}/seed", json={"digits": DIGITS, "witnesses": WITNESSES}
    ).json()
    assert entered["status"] == "frozen" and entered["seed"] is None
    assert entered["awaiting_witness"] is True
    assert DIGITS not in str(client.get(f"/api/v1/draws/{public_id}").json())
    assert log_kinds(client, public_id) == [
        "commitment"
    ]  # nothing logged before the witness agrees

    # the operator may not confirm their own entry
    assert client.post(confirm, json={"digits": DIGITS}).status_code == 403
    wrong = client.post(confirm, json={"digits": "27182818284590452354"}, headers=witness)
    assert wrong.status_code == 409 and wrong.json()["code"] == "seed_mismatch"
    assert client.get(f"/api/v1/draws/{public_id}").json()["status"] == "frozen"

    done = client.post(confirm, json={"digits": DIGITS}, headers=witness)
    assert done.status_code == 200, done.text
    draw = done.json()
    assert draw["status"] == "done" and draw["seed"].startswith(f"dice/{DIGITS}/")
    assert draw["seed_detail"]["entered_by"] == "测试经办人员"
    assert draw["seed_detail"]["confirmed_by"] == f"{WITNESSES[0]}（测试见证人）"
    history = client.get(f"/api/v1/draws/{public_id}/history").json()["items"]
    assert [(h["action"], h["actor"]) for h in history] == [
        ("freeze", "测试经办人员"),
        ("seed_entered", "测试经办人员"),
        ("seed_confirmed", f"{WITNESSES[0]}（测试见证人）"),
    ]
    # confirming again is harmless; other digits after the fact are refused
    assert client.post(confirm, json={"digits": DIGITS}, headers=witness).status_code == 200
    late = client.post(confirm, json={"digits": "11111111111111111111"}, headers=witness)
    assert late.status_code == 409 and late.json()["code"] == "already_seeded"


def test_a_retried_create_returns_the_first_answer(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    headers = {"Idempotency-Key": "plan-2025-q1-training"}
    first = client.post("/api/v1/plans/from-template/2025-training", headers=headers)
    again = client.post("/api/v1/plans/from-template/2025-training", headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    with session_factory() as session:
        assert len(session.scalars(select(Plan)).all()) == 1

    other = client.post("/api/v1/plans/from-template/2025-hazchem", headers=headers)
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    # idempotency keys are per client: another system's identical key is its own
    other_system = client.post(
        "/api/v1/keys",
        json={"name": "市执法系统", "role": "operator"},
        headers=client.as_role("admin"),
    ).json()["secret"]
    theirs = client.post(
        "/api/v1/plans/from-template/2025-training",
        headers=headers | {"X-API-Key": other_system},
    )
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs.headers
    assert theirs.json()["id"] != first.json()["id"]


def test_concurrent_retries_create_one_object(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    public_id = _frozen(client, session_factory)
    headers = {"Idempotency-Key": "annul-once"}
    body = {"reason": "摇号现场停电，仪式中断", "decided_by": "局党委会议"}

    def annul(_: int) -> tuple[int, str]:
        r = client.post(f"/api/v1/draws/{public_id}/annul", json=body, headers=headers)
        return r.status_code, r.text

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(annul, range(4)))
    assert {code for code, _ in answers} == {200}, answers
    assert len({text for _, text in answers}) == 1
    assert log_kinds(client, public_id) == ["commitment", "annulment"]


def test_a_failed_first_attempt_leaves_the_key_free(client: ApiClient) -> None:
    headers = {"Idempotency-Key": "enterprise-1"}
    bad = client.post("/api/v1/enterprises", json={"name": "缺信用代码"}, headers=headers)
    assert bad.status_code == 422
    again = client.post("/api/v1/enterprises", json={"name": "缺信用代码"}, headers=headers)
    assert again.status_code == 422 and "Idempotent-Replayed" not in again.headers


def _readable(response: httpx.Response) -> str:
    """What a member of the public can read in a response, whatever its format."""
    kind = response.headers.get("content-type", "")
    if kind.startswith("application/pdf"):
        return "".join(
            p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.content)).pages
        )
    if "spreadsheetml" in kind:
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        return "\n".join(
            str(cell.value)
            for sheet in book.worksheets
            for row in sheet.iter_rows()
            for cell in row
        )
    return response.text


def test_no_public_route_shows_anything_private(
    client: ApiClient, session_factory: sessionmaker[Session]
) -> None:
    public_id = _frozen(client, session_factory)
    other = client.post("/api/v1/plans/from-template/2024-hazchem").json()
    second = client.post(
        f"/api/v1/plans/{other['id']}/freeze",
        json={"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}},
    ).json()["public_id"]
    done = reveal_dice(client, second, DIGITS, WITNESSES).json()
    drawn = done["result"]["strata"][0]["selected"][0]["key"]
    note = "现场发现应急预案未备案（内部备注）"
    recorded = client.post(
        f"/api/v1/draws/{second}/outcomes",
        json={"uscc": drawn, "outcome": "rectify", "inspected_on": beijing_today(), "note": note},
    )
    assert recorded.status_code == 201, recorded.text
    draft = client.post("/api/v1/plans/from-template/2025-training").json()
    client.patch(f"/api/v1/plans/{draft['id']}", json={"title": "内部草稿：下季度暗访名单"})

    pool = demo_pool()
    private = {i.phone for i in pool.inspectors if i.phone}
    private |= {c.reason for c in pool.conflicts}
    private |= {note, "内部草稿：下季度暗访名单", "digits_sha256"}
    private |= {client.keys[role] for role in client.keys}
    # the same secrets are there for staff: the walk below would see a leak
    staff_view = client.get("/api/v1/inspectors", params={"page_size": 500}).text
    assert sum(p in staff_view for p in private) >= 10
    assert note in client.get(f"/api/v1/draws/{second}/outcomes").text
    size = client.get("/api/v1/log/checkpoint", headers=client.as_role("public")).text
    log_size = int(size.splitlines()[1])
    values = {"public_id": second, "index": "0", "uscc": drawn, "path": "0/000"}
    walked = 0
    for (method, path), allowed in sorted(MATRIX.items()):
        if method != "GET" or "public" not in allowed:
            continue
        urls = [re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)]
        if "{public_id}" in path and "/proof" not in path:  # a frozen draw has no result to prove
            urls.append(path.replace("{public_id}", public_id))
        if path == "/api/v1/log/entries/{index}":
            urls = [f"/api/v1/log/entries/{i}" for i in range(log_size)]
        if path == "/api/v1/log/proof/consistency":
            urls = [f"{path}?first=1&second={log_size}"]
        if path == "/api/v1/log/entries":
            urls = [f"{path}?start=0&end={log_size}"]
        if path == "/tlog/tile/{path}":
            urls = [f"/tlog/tile/{kind}/000.p/{log_size}" for kind in ("0", "entries")]
        for url in urls:
            response = client.get(url, headers=client.as_role("public"))
            assert response.status_code == 200, (url, response.text)
            text = _readable(response)
            leaked = [p for p in private if p in text]
            assert not leaked, (url, leaked)
            walked += 1
    assert walked >= 20
