"""SIGKILL the service in the middle of draws and imports: nothing half-written survives.

On each backend (the SQLite file in WAL mode, and PostgreSQL), a few rounds of:
draws (plan, freeze, dice digits, witness confirmation) and enterprise imports
of a few thousand rows fired at once, the server's process group killed at a
moment drawn from a seeded random.Random, and the server started again on the
same database. After each restart every import is all or nothing, every draw
is in a state its log entries agree with, every acknowledged write is there,
and the log audits clean; at the end `shuangsui audit-log` passes and a new
draw still completes.

Each round fires imports and draws together.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.draws.models import Draw, Plan
from app.history import ChangeRecord
from app.ledger.audit import audit
from app.ledger.guard import open_signer
from app.ledger.models import LogEntry, LogHead
from app.ledger.origin import resolve_origin
from app.pools.demo import demo_pool
from app.pools.models import Enterprise, ImportBatch
from tests.factories import ceremony_time, uscc
from tests.test_concurrency import Server, audit_log, prepare_service, start_server
from tests.test_import import HEADER

SEED = 20250611  # change to explore other kill moments; failures reproduce with the same one
ROUNDS = 4
IMPORTS_PER_ROUND = 2
DRAWS_PER_ROUND = 3
ROWS = 2000
WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]
BASE_SERIAL = 700_000_000  # far from the demo pool's codes


@dataclass
class ImportFile:
    name: str
    data: bytes
    codes: frozenset[str]
    acknowledged: bool = False

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _import_file(round_: int, k: int, rows: int = ROWS) -> ImportFile:
    first = BASE_SERIAL + (round_ * IMPORTS_PER_ROUND + k) * ROWS
    lines = [",".join(HEADER)]
    codes = []
    for serial in range(first, first + rows):
        code = uscc(region="430422", serial=serial)
        codes.append(code)
        lines.append(
            f"{code},崩溃测试加油站{serial}号有限公司,衡南县,加油站,B,否,重大危险源,"
            f"衡南县崩溃测试路{serial}号"
        )
    data = ("\r\n".join(lines) + "\r\n").encode()
    return ImportFile(f"崩溃测试-{round_}-{k}.csv", data, frozenset(codes))


@dataclass
class Acks:
    """What the server acknowledged before it died: all of it must survive."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    plans: set[int] = field(default_factory=set)
    frozen: set[str] = field(default_factory=set)
    done: dict[str, str] = field(default_factory=dict)  # public id -> seed

    def add(self, kind: str, value: Any, extra: Any = None) -> None:
        with self.lock:
            if kind == "plan":
                self.plans.add(value)
            elif kind == "frozen":
                self.frozen.add(value)
            else:
                self.done[value] = extra


def _digits(rng_value: int) -> str:
    return f"{rng_value:024d}"[-24:]


def _run_draw(api: httpx.Client, witness_key: str, stratum: str, digits: str, acks: Acks) -> None:
    """Plan, freeze, enter digits, confirm: stops quietly when the server goes away."""
    plan_body = {
        "title": f"崩溃测试 {stratum}",
        "year": 2025,
        "planned_month": "2025-07",
        "spec": {
            "strata": [
                {
                    "id": stratum,
                    "label": "危险化学品储存",
                    "filter": {"subtype": ["hazchem_storage"]},
                    "count": 3,
                }
            ]
        },
    }
    plan = api.post("/api/v1/plans", json=plan_body)
    assert plan.status_code == 201, plan.text
    acks.add("plan", plan.json()["id"])
    freeze = {"seed": {"source": "dice", "ceremony_at": ceremony_time(), "witnesses": WITNESSES}}
    frozen = api.post(f"/api/v1/plans/{plan.json()['id']}/freeze", json=freeze)
    assert frozen.status_code == 201, frozen.text
    public_id = frozen.json()["public_id"]
    acks.add("frozen", public_id)
    _finish_draw(api, witness_key, public_id, digits, acks)


def _finish_draw(
    api: httpx.Client, witness_key: str, public_id: str, digits: str, acks: Acks
) -> None:
    seed_body = {"digits": digits, "witnesses": WITNESSES}
    entered = api.post(f"/api/v1/draws/{public_id}/seed", json=seed_body)
    if entered.status_code == 409 and entered.json()["code"] == "digits_already_entered":
        # a crash came between an earlier entry and its confirmation: the clerk takes
        # that entry back, on the record, and enters the digits again
        withdrawn = api.post(
            f"/api/v1/draws/{public_id}/seed/withdraw", json={"reason": "服务中断，重新录入点数"}
        )
        assert withdrawn.status_code == 200, withdrawn.text
        entered = api.post(f"/api/v1/draws/{public_id}/seed", json=seed_body)
    assert entered.status_code == 200, entered.text
    done = api.post(
        f"/api/v1/draws/{public_id}/seed/confirm",
        json={"digits": digits},
        headers={"X-API-Key": witness_key, "X-Actor": quote(WITNESSES[0])},
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "done", done.text
    acks.add("done", public_id, done.json()["seed"])


def _run_import(api: httpx.Client, file: ImportFile) -> None:
    response = api.post(
        "/api/v1/enterprises/import", files={"file": (file.name, file.data)}, timeout=60
    )
    assert response.status_code == 200, response.text
    assert response.json()["created"] == len(file.codes)
    file.acknowledged = True


def _quietly(cut: Counter[str], task: Any, *args: Any) -> None:
    """Run one client's work; the server being killed under it is expected."""
    try:
        task(*args)
    except httpx.ConnectError:
        cut[f"{task.__name__}: not started"] += 1
    except httpx.TransportError:  # the connection dropped while the server was at work
        cut[f"{task.__name__}: cut short"] += 1
    else:
        cut[f"{task.__name__}: done"] += 1


@dataclass
class World:
    db_url: str
    data_dir: Path
    keys: dict[str, str]
    verifier_key: str
    files: list[ImportFile] = field(default_factory=list)
    acks: Acks = field(default_factory=Acks)
    baseline: int = 0  # enterprises before any import


def _check(world: World, server: Server) -> list[str]:
    """Everything the database holds after a crash is whole; returns the draws left frozen."""
    engine = make_engine(world.db_url)
    try:
        with make_sessionmaker(engine)() as session:
            leftover = _check_database(world, session)
    finally:
        engine.dispose()
    with httpx.Client(base_url=server.base, timeout=30) as public:
        metrics = public.get("/metrics").text
    _check_metrics(world, metrics)
    return leftover


def _check_database(world: World, session: Any) -> list[str]:
    # -- imports: all rows or none, and a batch exactly when the rows are there
    present = set(session.scalars(select(Enterprise.uscc)))
    batches = {b.sha256: b for b in session.scalars(select(ImportBatch))}
    assert len(batches) == len(session.scalars(select(ImportBatch.id)).all()), (
        "a file imported twice"
    )
    mine = {f.sha256 for f in world.files}
    assert set(batches) <= mine, "an import batch no client sent"
    imported = 0
    for file in world.files:
        found = len(file.codes & present)
        assert found in (0, ROWS), f"{file.name}: {found} of {ROWS} rows survived the crash"
        assert (file.sha256 in batches) == (found == ROWS), file.name
        if file.acknowledged:
            assert found == ROWS, f"{file.name} was acknowledged, then lost"
        if found:
            imported += ROWS
            batch = batches[file.sha256]
            assert (batch.rows, batch.created, batch.updated, batch.unchanged) == (ROWS, ROWS, 0, 0)
            changes = session.scalar(
                select(func.count()).where(
                    ChangeRecord.import_id == batch.id, ChangeRecord.action == "create"
                )
            )
            assert changes == ROWS, f"{file.name}: {changes} history rows for {ROWS} enterprises"
    assert len(present) == world.baseline + imported

    # -- the log: whole, no gap, signed checkpoints consistent
    indexes = list(session.scalars(select(LogEntry.idx).order_by(LogEntry.idx)))
    assert indexes == list(range(len(indexes))), "the log has a gap"
    assert session.scalar(select(LogHead.size)) == len(indexes)
    report = audit(session, [world.verifier_key])
    assert report.ok, report.problems
    kinds: dict[str, list[tuple[str, bytes]]] = {}
    for entry in session.execute(
        select(LogEntry.draw, LogEntry.kind, LogEntry.body).order_by(LogEntry.idx)
    ):
        kinds.setdefault(entry.draw, []).append((entry.kind, bytes(entry.body)))

    # -- draws: each in a state its log agrees with
    draws = {d.public_id: d for d in session.scalars(select(Draw))}
    assert set(kinds) == set(draws), "log entries and draws disagree on which draws exist"
    leftover = []
    for public_id, draw in draws.items():
        logged = [k for k, _ in kinds[public_id]]
        bodies = {k: json.loads(b) for k, b in kinds[public_id]}
        if draw.status == "frozen":
            assert draw.seed is None and draw.seeded_at is None, public_id
            assert draw.result_jcs is None and draw.result_hash is None, public_id
            assert logged == ["commitment"], (public_id, logged)
            leftover.append(public_id)
        elif draw.status == "done":
            assert draw.seed and draw.seed_detail and draw.seeded_at, public_id
            assert draw.result_jcs and draw.result_hash, public_id
            assert logged == ["commitment", "seed", "result"], (public_id, logged)
            assert bodies["seed"]["seed"] == draw.seed
            assert bodies["result"]["result_hash"] == draw.result_hash
        else:
            assert draw.status == "failed", (public_id, draw.status)
            assert draw.seed and draw.failure, public_id
            assert logged == ["commitment", "seed", "failure"], (public_id, logged)
        assert bodies["commitment"]["frame_hash"] == draw.frame_hash
    acks = world.acks
    assert acks.frozen <= set(draws), "an acknowledged freeze was lost"
    for public_id, seed in acks.done.items():
        assert draws[public_id].status == "done" and draws[public_id].seed == seed, public_id
    plans = set(session.scalars(select(Plan.id)))
    assert acks.plans <= plans, "an acknowledged plan was lost"
    return sorted(leftover)


def _metric(metrics: str, name: str, **labels: str) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(want) + r"\}" if labels else "") + r" (\S+)"
    found = re.search(r"^" + pattern + r"$", metrics, re.M)
    assert found, f"{name}{labels} not in /metrics"
    return float(found.group(1))


def _check_metrics(world: World, metrics: str) -> None:
    """The service's own listing of import batches agrees with the rows."""
    engine = make_engine(world.db_url)
    with make_sessionmaker(engine)() as session:
        batches = session.scalar(select(func.count()).select_from(ImportBatch)) or 0
        created = session.scalar(select(func.coalesce(func.sum(ImportBatch.created), 0)))
    engine.dispose()
    assert _metric(metrics, "shuangsui_imports_total", entity="enterprises") == batches
    rows = _metric(metrics, "shuangsui_import_rows_total", entity="enterprises", outcome="created")
    assert rows == created == batches * ROWS


def _round(
    world: World, server: Server, round_: int, rng: random.Random, leftover: list[str]
) -> tuple[str, float, dict[str, int]]:
    """Fire draws and imports at once, SIGKILL the server meanwhile; returns what, when, how."""
    kind = "both"
    delay = rng.uniform(0.1, 4.0)
    operator = {"X-API-Key": world.keys["operator"]}
    files = [_import_file(round_, k) for k in range(IMPORTS_PER_ROUND)]
    world.files.extend(files)
    work: list[tuple[Any, ...]] = [(_run_import, file) for file in files]
    witness = world.keys["witness"]
    for k in range(DRAWS_PER_ROUND):
        digits = _digits(rng.randrange(10**24))
        work.append((_run_draw, witness, f"crash-r{round_}-d{k}", digits, world.acks))
    # draws a previous crash left frozen are finished now, also racing the kill
    for public_id in leftover:
        digits = _digits(rng.randrange(10**24))
        work.append((_finish_draw, witness, public_id, digits, world.acks))
    clients = [httpx.Client(base_url=server.base, timeout=60, headers=operator) for _ in work]
    cut: Counter[str] = Counter()
    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        futures = [
            pool.submit(_quietly, cut, task, client, *args)
            for client, (task, *args) in zip(clients, work, strict=True)
        ]
        time.sleep(delay)
        server.kill()
        for future in futures:
            future.result(timeout=60)
    for client in clients:
        client.close()
    return kind, round(delay, 2), dict(sorted(cut.items()))


@pytest.mark.parametrize("seed", [SEED])
def test_a_killed_server_leaves_nothing_half_written(
    db_url: str, tmp_path: Path, seed: int
) -> None:
    started = time.monotonic()
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    keys = prepare_service(db_url, data_dir)
    settings = Settings(database_url=db_url, data_dir=data_dir)
    engine = make_engine(db_url)
    signer = open_signer(
        data_dir, resolve_origin(settings.log_origin, data_dir), make_sessionmaker(engine)
    )
    engine.dispose()
    demo_codes = {e.uscc for e in demo_pool().enterprises}
    world = World(db_url, data_dir, keys, signer.verifier_key, baseline=len(demo_codes))
    log = tmp_path / "uvicorn.log"
    backend = make_url(db_url).get_backend_name()

    server = start_server(db_url, data_dir, log)
    leftover: list[str] = []
    delays = []
    try:
        for round_ in range(ROUNDS):
            delays.append(_round(world, server, round_, rng, leftover))
            server = start_server(db_url, data_dir, log)
            leftover = _check(world, server)

        # the service still works: a new draw completes after the last restart
        acks_before = len(world.acks.done)
        with httpx.Client(
            base_url=server.base, timeout=60, headers={"X-API-Key": keys["operator"]}
        ) as api:
            _run_draw(api, keys["witness"], "crash-after", "1" * 24, world.acks)
            for public_id in leftover:
                _finish_draw(api, keys["witness"], public_id, "2" * 24, world.acks)
        assert len(world.acks.done) == acks_before + 1 + len(leftover)
        _check(world, server)
    finally:
        server.stop()

    audited = audit_log(db_url, data_dir)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    acknowledged = Counter(f.acknowledged for f in world.files)
    print(f"{backend}: rounds {delays}, imports acknowledged {acknowledged}")
    assert time.monotonic() - started < 55


def test_an_import_waiting_for_the_database_does_not_stall_the_server(
    db_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    keys = prepare_service(db_url, data_dir, demo=False)
    server = start_server(db_url, data_dir, tmp_path / "uvicorn.log")
    operator = {"X-API-Key": keys["operator"]}
    engine = make_engine(db_url)
    try:
        with httpx.Client(base_url=server.base, timeout=30, headers=operator) as api:
            assert api.get("/api/v1/enterprises").status_code == 200  # key's last use noted now
            with engine.connect() as other:
                # another writer holds the table the import writes first, for three seconds
                if make_url(db_url).get_backend_name() == "sqlite":
                    other.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    other.exec_driver_sql("BEGIN")
                    other.exec_driver_sql("LOCK TABLE import_batches IN EXCLUSIVE MODE")
                release = threading.Timer(3.0, other.rollback)
                release.start()
                with ThreadPoolExecutor(max_workers=1) as pool:
                    importing = pool.submit(_run_import, api, _import_file(99, 0, rows=20))
                    time.sleep(1.0)  # the import is waiting for the lock by now
                    asked = time.monotonic()
                    alive = httpx.get(f"{server.base}/healthz", timeout=30)
                    waited = time.monotonic() - asked
                    release.join()
                    importing.result(timeout=60)
        assert alive.status_code == 200
        assert waited < 1.0, f"/healthz took {waited:.1f} s while an import waited for a lock"
    finally:
        engine.dispose()
        server.stop()
