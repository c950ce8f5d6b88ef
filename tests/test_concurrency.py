"""Many clients at once against uvicorn with three worker processes on one PostgreSQL.

32 client threads race to freeze the same plans, to seed and confirm the same
draw with different digits, to annul and to replace, and to record and publish
the same inspection outcomes. Afterwards the log must hold at most one seed and
one result per draw, no gap in its indexes, a signed checkpoint over all of it
that `shuangsui audit-log` accepts, and consistency proofs from every
checkpoint seen mid-run to the final one, checked here with an RFC 9162
implementation independent of app/.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.access.keys import create_key
from app.access.policy import Role
from app.db import make_engine, make_sessionmaker
from app.draws import ceremony, outcomes, service, templates
from app.draws.models import Draw
from app.draws.schemas import DiceReveal, OutcomeCreate
from app.draws.units import units_of
from app.ledger import store as ledger
from app.ledger.guard import open_signer
from app.ledger.origin import LOCAL_ORIGIN, resolve_origin
from app.pools.demo_load import load_demo_pool
from tests.auditor import load_verifier
from tests.factories import beijing_today, ceremony_time, freeze_with_dice, reveal_at_console

ROOT = Path(__file__).resolve().parents[1]
WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
# Eight plans, four clients on each: 32 threads at once.
TEMPLATES = [
    "2025-hazchem",
    "2025-noncoal-q3",
    "2025-noncoal-q4",
    "2025-industry-q2",
    "2025-training",
    "2024-industry",
    "2024-training",
    "2024-coal",
]
MEMBERS = 4
ANNUL_GROUPS = {2, 5}  # in these, one client annuls the draw while the others seed it
OUTCOMES = ["no_problem", "rectify", "case_filed", "no_problem"]


# -- the service under uvicorn, shared with tests/test_crash.py ----------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_env(db_url: str, data_dir: Path) -> dict[str, str]:
    # `shuangsui serve` names its log as production must: explicitly.
    return os.environ | {
        "SHUANGSUI_DATABASE_URL": db_url,
        "SHUANGSUI_DATA_DIR": str(data_dir),
        "SHUANGSUI_LOG_ORIGIN": LOCAL_ORIGIN,
    }


def prepare_service(db_url: str, data_dir: Path, *, demo: bool = True) -> dict[str, str]:
    """Demo pool, API keys and the log's signing key, made before any worker starts."""
    # Made once here, before any worker starts, as `shuangsui serve` does.
    engine = make_engine(db_url)
    open_signer(data_dir, resolve_origin(None, data_dir), make_sessionmaker(engine))
    with make_sessionmaker(engine)() as session:
        if demo:
            load_demo_pool(session)
        keys = {
            "operator": create_key(
                session, name="并发经办", role=Role.OPERATOR, actor="测试", expires_at=None
            ).secret,
            "witness": create_key(
                session, name="并发见证", role=Role.WITNESS, actor="测试", expires_at=None
            ).secret,
        }
        session.commit()
    engine.dispose()
    return keys


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path

    def kill(self) -> None:
        """SIGKILL the whole process group: the supervisor and every worker."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; then make sure no worker is left."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(15)
        self.kill()


def start_server(db_url: str, data_dir: Path, log: Path, workers: int = 1) -> Server:
    """uvicorn in its own process group on a free port; returns once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.asgi:app", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=service_env(db_url, data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(f"{server.base}/api/v1/log/key", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    pytest.fail(f"the server did not start:\n{log.read_text(errors='replace')[-3000:]}")


def audit_log(db_url: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """`shuangsui audit-log`, as an auditor runs it, on the service's database and key."""
    return subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "audit-log"],
        cwd=ROOT,
        env=service_env(db_url, data_dir),
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- RFC 9162 Merkle trees, written from the RFC (nothing from app/) ------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_hash(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162 section 2.1.1, over leaf hashes."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)  # largest power of two below n
    return node_hash(tree_hash(leaves[:k]), tree_hash(leaves[k:]))


def verify_consistency(
    first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def test_the_merkle_helpers_agree_with_rfc_9162_by_brute_force() -> None:
    """The independent verifier above accepts real proofs and refuses altered ones."""
    leaves = [leaf_hash(str(i).encode()) for i in range(13)]

    def subproof(m: int, d: list[bytes], complete: bool) -> list[bytes]:
        # SUBPROOF of RFC 9162 section 2.1.4.1.
        n = len(d)
        if m == n:
            return [] if complete else [tree_hash(d)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return subproof(m, d[:k], complete) + [tree_hash(d[k:])]
        return subproof(m - k, d[k:], False) + [tree_hash(d[:k])]

    for second in range(1, 14):
        for first in range(1, second + 1):
            proof = subproof(first, leaves[:second], True)
            a, b = tree_hash(leaves[:first]), tree_hash(leaves[:second])
            assert verify_consistency(first, second, proof, a, b), (first, second)
            if proof:
                bad = proof[:-1] + [hashlib.sha256(proof[-1]).digest()]
                assert not verify_consistency(first, second, bad, a, b)
            if first < second:
                assert not verify_consistency(first, second, proof, b, b)


# -- reading the log over the API ------------------------------------------------------


@dataclass
class LogView:
    size: int
    entries: list[dict[str, Any]]  # parsed entry bodies, by index
    leaves: list[bytes]


def read_log(api: httpx.Client) -> LogView:
    """Every entry, page by page; checks indexes run 0..n-1 and leaf hashes match."""
    entries: list[dict[str, Any]] = []
    leaves: list[bytes] = []
    size = None
    while size is None or len(entries) < size:
        page = api.get(
            "/api/v1/log/entries", params={"start": len(entries), "end": len(entries) + 1000}
        )
        assert page.status_code == 200, page.text
        data = page.json()
        size = data["tree_size"] if size is None else size
        assert data["entries"], f"the log stops at {len(entries)} of {size} entries"
        for item in data["entries"]:
            assert item["index"] == len(entries), "log indexes must run 0..n-1 without a gap"
            body = base64.b64decode(item["entry_b64"])
            assert json.loads(body) == item["entry"]
            assert base64.b64decode(item["leaf_hash"]) == leaf_hash(body)
            entries.append(item["entry"])
            leaves.append(leaf_hash(body))
    assert len(entries) == size
    return LogView(size, entries, leaves)


def open_checkpoint(verifier: ModuleType, note: str, key: str) -> tuple[int, bytes]:
    origin, size, root = verifier.open_checkpoint(note, key)
    assert origin == LOCAL_ORIGIN
    return size, root


# -- the race ----------------------------------------------------------------------------


@dataclass
class Group:
    """Four clients working on one plan template."""

    template: str
    frozen: threading.Event = field(default_factory=threading.Event)
    public_id: str | None = None
    freezes: list[tuple[int, str]] = field(default_factory=list)
    seeds_seen: set[str] = field(default_factory=set)
    annulled: threading.Event = field(default_factory=threading.Event)
    replacements: list[tuple[int, str]] = field(default_factory=list)
    digits: list[str] = field(default_factory=list)


@dataclass
class Record:
    """Every answer any client got, for the checks afterwards."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    calls: int = 0
    server_errors: list[tuple[str, str, str]] = field(default_factory=list)

    def call(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request; a 5xx is noted and retried, as its problem detail asks clients to."""
        for _ in range(5):
            response = client.request(method, url, **kwargs)
            with self.lock:
                self.calls += 1
                if response.status_code >= 500:
                    self.server_errors.append((method, url, response.text))
            if response.status_code < 500:
                return response
            time.sleep(0.05)
        return response


def _digits(group: int, member: int) -> str:
    text = hashlib.sha256(f"{group}/{member}".encode()).hexdigest()
    return text.translate(str.maketrans("abcdef", "012345"))[:24]


def _freeze_body(replaces: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}
    }
    if replaces is not None:
        body["replaces"] = replaces
    return body


def _drawn_usccs(draw: dict[str, Any]) -> list[str]:
    """The drawn enterprises' codes (a cluster's key is no code: skipped)."""
    keys = [u["key"] for s in draw["result"]["strata"] for u in s["selected"]]
    return [k for k in keys if len(k) == 18 and not k.startswith("pair-")]


def _member(
    base: str,
    keys: dict[str, str],
    groups: list[Group],
    g: int,
    m: int,
    start: threading.Barrier,
    record: Record,
) -> None:
    group = groups[g]
    rng = random.Random(g * 100 + m)
    call = record.call
    operator = {"X-API-Key": keys["operator"], "X-Actor": quote(f"经办员{g}-{m}号")}
    with (
        httpx.Client(base_url=base, timeout=30, headers=operator) as op,
        httpx.Client(
            base_url=base,
            timeout=30,
            headers={"X-API-Key": keys["witness"], "X-Actor": quote(WITNESSES[0])},
        ) as wit,
    ):
        start.wait(timeout=30)
        # 1. all four freeze the same template: one frame, one live draw
        plan = call(op, "POST", f"/api/v1/plans/from-template/{group.template}")
        assert plan.status_code == 201, plan.text
        frozen = call(op, "POST", f"/api/v1/plans/{plan.json()['id']}/freeze", json=_freeze_body())
        group.freezes.append((frozen.status_code, frozen.text))
        if frozen.status_code == 201:
            with record.lock:  # a later freeze on a changed frame is another draw
                group.public_id = group.public_id or frozen.json()["public_id"]
            group.frozen.set()
        assert group.frozen.wait(timeout=40), f"nobody froze {group.template}"
        public_id = group.public_id
        assert public_id is not None
        draw_url = f"/api/v1/draws/{public_id}"

        # 2. everyone enters their own digits and confirms them; in some groups one annuls
        digits = _digits(g, m)
        group.digits.append(digits)
        if g in ANNUL_GROUPS and m == MEMBERS - 1:
            time.sleep(rng.uniform(0, 0.3))
            annul = {"reason": "并发测试：仪式中断，公开撤销", "decided_by": "局党委会议"}
            annulled = call(op, "POST", f"{draw_url}/annul", json=annul)
            assert annulled.status_code == 200, annulled.text
            group.annulled.set()
        else:
            for _ in range(40):
                reveal = {"digits": digits, "witnesses": WITNESSES}
                answer = call(op, "POST", f"{draw_url}/seed", json=reveal)
                if answer.status_code == 200 and answer.json()["seed"] is None:
                    confirm = {"digits": digits}
                    answer = call(wit, "POST", f"{draw_url}/seed/confirm", json=confirm)
                if answer.status_code == 200 and answer.json()["seed"] is not None:
                    group.seeds_seen.add(answer.json()["seed"])
                else:
                    assert answer.status_code == 409, answer.text
                    assert answer.json()["code"] in (
                        "seed_mismatch",
                        "already_seeded",
                        "digits_already_entered",
                        "draw_state",
                    ), answer.text
                if call(op, "GET", draw_url).json()["status"] != "frozen":
                    break
                time.sleep(rng.uniform(0, 0.05))
            else:
                pytest.fail(f"{public_id} was never seeded nor annulled")

        # 3. an annulled draw may be replaced, and again by one client only
        if g in ANNUL_GROUPS:
            assert group.annulled.wait(timeout=40)
            # a replacement is a new draw of the annulled draw's own plan
            plan_id = call(op, "GET", draw_url).json()["plan_id"]
            body = _freeze_body(replaces=public_id)
            replaced = call(op, "POST", f"/api/v1/plans/{plan_id}/freeze", json=body)
            group.replacements.append((replaced.status_code, replaced.text))
            return

        # 4. outcomes: all four record and publish the first drawn enterprise, and one more each
        draw = call(op, "GET", draw_url).json()
        assert draw["status"] == "done", draw
        drawn = _drawn_usccs(draw)
        for n, uscc in enumerate(drawn[:1] + drawn[1 + m : 2 + m]):
            body = {
                "uscc": uscc,
                "outcome": OUTCOMES[m],
                "inspected_on": beijing_today(),
                "note": f"并发测试 {g}-{m}",
                "publish": n == 0,
            }
            recorded = call(op, "POST", f"{draw_url}/outcomes", json=body)
            if recorded.status_code != 201:
                assert recorded.status_code == 409, recorded.text
                assert recorded.json()["code"] == "outcome_published", recorded.text
            published = call(op, "POST", f"{draw_url}/outcomes/{uscc}/publish")
            assert published.status_code == 200, published.text
            assert published.json()["log_index"] is not None


def logged_errors(log: Path) -> list[str]:
    """The exceptions behind the service's 500 answers, from its JSON log lines."""
    found = []
    for line in log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") == "unexpected error":
            found.append(str(event.get("exception", "")))
    return found


def _watch_checkpoints(base: str, stop: threading.Event, notes: list[str]) -> None:
    with httpx.Client(base_url=base, timeout=30) as public:
        while not stop.is_set():
            response = public.get("/api/v1/log/checkpoint")
            if response.status_code == 200:
                notes.append(response.text)
            stop.wait(0.15)


@pytest.fixture
def workers3(pg_db_url: str, tmp_path: Path) -> Iterator[tuple[Server, dict[str, str]]]:
    keys = prepare_service(pg_db_url, tmp_path)
    server = start_server(pg_db_url, tmp_path, tmp_path / "uvicorn.log", workers=3)
    try:
        yield server, keys
    finally:
        server.stop()


@pytest.mark.postgres
def test_racing_clients_never_fork_a_draw_or_the_log(
    workers3: tuple[Server, dict[str, str]], pg_db_url: str, tmp_path: Path
) -> None:
    server, keys = workers3
    started = time.monotonic()
    with httpx.Client(base_url=server.base, headers={"X-API-Key": keys["operator"]}) as api:
        listed = {t["key"] for t in api.get("/api/v1/plan-templates").json()["items"]}
    assert set(TEMPLATES) <= listed
    groups = [Group(template) for template in TEMPLATES]
    record = Record()
    start = threading.Barrier(len(groups) * MEMBERS)
    notes: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_checkpoints, args=(server.base, stop, notes))
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=len(groups) * MEMBERS) as pool:
            futures = [
                pool.submit(_member, server.base, keys, groups, g, m, start, record)
                for g in range(len(groups))
                for m in range(MEMBERS)
            ]
            for future in futures:
                future.result(timeout=50)
    finally:
        stop.set()
        watcher.join(10)
    assert server.process.poll() is None, "the server died"
    # no request failed on the server's side: no deadlock, no lost race
    causes = logged_errors(server.log)
    assert not record.server_errors, (record.server_errors[:3], [c[-3000:] for c in causes[:3]])

    verifier = load_verifier()
    with httpx.Client(base_url=server.base, timeout=30) as api:
        key = api.get("/api/v1/log/key").text.strip()
        final_note = api.get("/api/v1/log/checkpoint").text
        log = read_log(api)
        draws = {
            d["public_id"]: d
            for d in api.get("/api/v1/draws", params={"page_size": 200}).json()["items"]
        }

        # freezing: a frame is committed once; a template froze twice only if its frame
        # changed in between (a same-month draw finished, or last inspectors changed)
        # replacing: an annulled draw gets one live replacement, never two
        for group in groups:
            assert any(code == 201 for code, _ in group.freezes), group.freezes
            replaced = [code for code, _ in group.replacements if code == 201]
            assert len(replaced) <= 1, group.replacements
            for tries in (group.freezes, group.replacements):
                made = [json.loads(text) for code, text in tries if code == 201]
                refused = [json.loads(text) for code, text in tries if code != 201]
                # the later replacements of one draw find the plan's chain already moved on
                allowed = {"frame_already_committed", "already_replaced", "replaces_not_latest"}
                assert {r["code"] for r in refused} <= allowed, refused
                assert len({d["frame_hash"] for d in made}) == len(made), made
                assert all(
                    d["replaces"] == group.public_id for d in made if tries is group.replacements
                )

        # seeding: every client that was told a seed was told the same one, and it stuck
        for g, group in enumerate(groups):
            assert group.public_id is not None
            draw = draws[group.public_id]
            assert group.seeds_seen <= {draw["seed"]}, (group.template, group.seeds_seen)
            if g in ANNUL_GROUPS:
                assert draw["status"] == "annulled"
                assert draw["annulment"]["previous_status"] in ("frozen", "done")
            else:
                assert draw["status"] == "done", draw
                assert group.seeds_seen == {draw["seed"]}
            if draw["seed"] is not None:
                digits = draw["seed"].split("/")[1]
                assert digits in group.digits
                assert draw["seed"] == f"dice/{digits}/{draw['frame_hash']}"
                assert draw["seed_detail"]["digits"] == digits

        # the log: at most one seed and one result per draw, in order, matching the draw
        kinds_by_draw: dict[str, list[str]] = defaultdict(list)
        inspections: Counter[tuple[str, str]] = Counter()
        for entry in log.entries:
            kinds_by_draw[entry["draw"]].append(entry["kind"])
            if entry["kind"] == "inspection":
                inspections[(entry["draw"], entry["uscc"])] += 1
        assert set(kinds_by_draw) == set(draws)
        for public_id, kinds in kinds_by_draw.items():
            draw = draws[public_id]
            counts = Counter(kinds)
            assert kinds[0] == "commitment" and counts["commitment"] == 1, (public_id, kinds)
            assert counts["seed"] <= 1 and counts["result"] <= 1, (public_id, kinds)
            assert counts["annulment"] <= 1 and counts["failure"] == 0, (public_id, kinds)
            lifecycle = [k for k in kinds if k != "inspection"]
            assert lifecycle in (
                ["commitment"],
                ["commitment", "annulment"],
                ["commitment", "seed", "result"],
                ["commitment", "seed", "result", "annulment"],
            ), (public_id, kinds)
            assert ("seed" in kinds) == (draw["seed"] is not None)
            if "result" in kinds:
                result = next(
                    e for e in log.entries if e["draw"] == public_id and e["kind"] == "result"
                )
                assert result["result_hash"] == draw["result_hash"]
            assert [log.entries[i]["kind"] for i in draw["log_entries"]] == kinds
        assert inspections, "no outcome was published"
        assert max(inspections.values()) == 1, inspections.most_common(3)

        # the final checkpoint covers the whole log, and agrees with a tree built here
        size, root = open_checkpoint(verifier, final_note, key)
        assert size == log.size
        assert root == tree_hash(log.leaves)
        # each draw's latest entry is provably in it, as the auditors' verifier checks
        for public_id, draw in draws.items():
            index = draw["log_entries"][-1]
            proved = api.get(f"/api/v1/log/entries/{index}", params={"tree_size": size}).json()
            path = [base64.b64decode(h) for h in proved["inclusion_proof"]]
            body = base64.b64decode(proved["entry_b64"])
            assert verifier.verify_inclusion(body, index, size, path, root), public_id

        # every checkpoint seen mid-run is a prefix of the final log, proven consistent
        assert notes, "no checkpoint was fetched during the run"
        seen = sorted({open_checkpoint(verifier, note, key) for note in notes})
        assert len(seen) >= 2, "the run was too short to see the log grow"
        early = [c for c in seen if 0 < c[0] < size]
        assert early
        for first, first_root in early + [(size, root)]:
            assert first_root == tree_hash(log.leaves[:first])
            proof = api.get(
                "/api/v1/log/proof/consistency", params={"first": first, "second": size}
            )
            assert proof.status_code == 200, proof.text
            data = proof.json()
            path = [base64.b64decode(h) for h in data["proof"]]
            assert base64.b64decode(data["first_root"]) == first_root
            assert base64.b64decode(data["second_root"]) == root
            assert verify_consistency(first, size, path, first_root, root), (first, size)
            if path:
                assert not verify_consistency(first, size, path[::-1] + [root], first_root, root)
        # ... and between consecutive ones too
        for (a, a_root), (b, b_root) in zip(early, early[1:], strict=False):
            data = api.get("/api/v1/log/proof/consistency", params={"first": a, "second": b}).json()
            path = [base64.b64decode(h) for h in data["proof"]]
            assert verify_consistency(a, b, path, a_root, b_root), (a, b)

    # the database agrees: one live draw per frame, each finished draw whole
    engine = make_engine(pg_db_url)
    with make_sessionmaker(engine)() as session:
        rows = list(session.scalars(select(Draw)))
    engine.dispose()
    assert {d.public_id for d in rows} == set(draws)
    live = Counter(d.frame_hash for d in rows if d.status != "annulled")
    assert max(live.values()) == 1
    for row in rows:
        if row.status == "done" or row.seed is not None:
            assert row.seed and row.result_jcs and row.result_hash, row.public_id

    audited = audit_log(pg_db_url, tmp_path)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert f"{log.size} 条" in audited.stdout
    print(
        f"{record.calls} requests, {len(record.server_errors)} answered 500 and retried, "
        f"{len(draws)} draws, {log.size} log entries, {len(seen)} checkpoints seen mid-run"
    )
    assert time.monotonic() - started < 55


# -- two lock-order bugs, reproduced step by step ------------------------------------
#
# The test's own session plays one request, stopped at the exact point where the
# other request (over HTTP, against the real service) meets it.


@dataclass
class OneDraw:
    server: Server
    keys: dict[str, str]
    factory: sessionmaker[Session]
    public_id: str
    uscc: str


@pytest.fixture
def one_done_draw(pg_db_url: str, tmp_path: Path) -> Iterator[OneDraw]:
    """The service (one worker) and a draw with a result, on a fresh PostgreSQL database."""
    keys = prepare_service(pg_db_url, tmp_path)
    engine = make_engine(pg_db_url)
    factory = make_sessionmaker(engine)
    with factory() as session:
        key = "2025-training"
        plan = service.create_plan(
            session, data=templates.TEMPLATES[key], actor="测试", template_key=key
        )
        draw = freeze_with_dice(session, plan, WITNESSES)
        draw = reveal_at_console(session, draw.public_id, "31415926535897932384", WITNESSES)
        session.commit()
        uscc = sorted(units_of(session, draw))[0]
    server = start_server(pg_db_url, tmp_path, tmp_path / "uvicorn.log")
    try:
        yield OneDraw(server, keys, factory, draw.public_id, uscc)
    finally:
        server.stop()
        engine.dispose()


def _wait_until_blocked(factory: sessionmaker[Session], request: Any) -> None:
    """Until a session of this database waits on a lock (or the request is answered)."""
    deadline = time.monotonic() + 10
    with factory() as watcher:
        while time.monotonic() < deadline and not request.done():
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            )
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.02)


@pytest.mark.postgres
def test_publishing_an_outcome_while_a_draw_step_runs_does_not_deadlock(
    one_done_draw: OneDraw,
) -> None:
    it = one_done_draw
    errors: list[str] = []
    body = {"uscc": it.uscc, "outcome": "no_problem", "inspected_on": beijing_today()}
    reveal = DiceReveal(digits="31415926535897932384", witnesses=WITNESSES)
    headers = {"X-API-Key": it.keys["operator"]}
    with (
        it.factory() as seeding,
        httpx.Client(base_url=it.server.base, timeout=30, headers=headers) as api,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # a seed request (POST .../seed) has just taken the log head in _lock_draw ...
        ledger.lock_head(seeding)
        # ... as the clerk publishes an outcome: its row is inserted, then it waits for the head
        url = f"/api/v1/draws/{it.public_id}/outcomes"
        publishing = pool.submit(api.post, url, json=body | {"publish": True})
        _wait_until_blocked(it.factory, publishing)
        # ... and the seed request goes on to lock the draw row
        try:
            ceremony.enter_digits(
                seeding,
                public_id=it.public_id,
                reveal=reveal,
                actor="乙",
            )
            seeding.commit()
        except Exception as exc:  # what its route would answer with 500
            errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")
            seeding.rollback()
        published = publishing.result(timeout=30)
    if published.status_code != 201:
        errors.append(f"POST {url}: {published.status_code} {published.text}")
    assert not errors, errors


@pytest.mark.postgres
def test_recording_the_same_outcome_twice_at_once_is_not_a_server_error(
    one_done_draw: OneDraw,
) -> None:
    it = one_done_draw
    body = {"uscc": it.uscc, "outcome": "rectify", "inspected_on": beijing_today()}
    headers = {"X-API-Key": it.keys["operator"]}
    with (
        it.factory() as first,
        httpx.Client(base_url=it.server.base, timeout=30, headers=headers) as api,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # one clerk's request has inserted the outcome and is about to commit ...
        outcomes.record(
            first, public_id=it.public_id, data=OutcomeCreate.model_validate(body), actor="甲"
        )
        # ... when another clerk records the same enterprise's outcome
        url = f"/api/v1/draws/{it.public_id}/outcomes"
        second = pool.submit(api.post, url, json=body | {"note": "复核后补充"})
        _wait_until_blocked(it.factory, second)
        first.commit()
        answer = second.result(timeout=30)
    assert answer.status_code in (201, 409), answer.text


def test_more_clients_than_database_connections_are_all_served(db_url: str, tmp_path: Path) -> None:
    # Far more clients than the worker's connections or threads, each making a
    # write that holds its connection from the route to the commit.
    keys = prepare_service(db_url, tmp_path, demo=False)
    server = start_server(db_url, tmp_path, tmp_path / "uvicorn.log")
    clients = 120

    def create_plan(_: int) -> int:
        with httpx.Client(
            base_url=server.base, timeout=120, headers={"X-API-Key": keys["operator"]}
        ) as api:
            return api.post("/api/v1/plans/from-template/2025-training").status_code

    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            codes = list(pool.map(create_plan, range(clients)))
        assert codes == [201] * clients, (Counter(codes), logged_errors(server.log)[:1])
    finally:
        server.stop()
