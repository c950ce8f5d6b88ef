"""The public pages under load: `python -m bench.bench_api [sqlite|postgresql|both] [--seconds S]`.

For each backend: a fresh database with the Hengyang demo pool and a few done
draws (made through the service layer, log checkpoint signed, so that serving
the pages writes nothing). Then, for each page, one draw's public page
(GET /draws/{public_id}, HTML) and the list of draws (GET /draws): the service
as deployed, `shuangsui serve --workers 2`, started afresh, warmed up with a
few sequential requests, and loaded from a separate process: `wrk` (2
threads, 64 connections, latency percentiles from bench/wrk_report.lua) or,
when wrk is not installed, bench/httpload.py.

A fresh server per page, because requests that a load generator abandons when
it stops are still served afterwards, and on a slow page they stall the
server for tens of seconds (see the README): one page's run would skew the next.
The load generator runs on the same machine as the two workers, so on a
2-core box the three compete for the cores: figures are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx

from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.draws import ceremony, service, templates
from app.draws.schemas import DiceReveal, FreezeRequest
from app.history import Person
from app.ledger import store
from app.ledger.guard import open_signer
from app.ledger.origin import resolve_origin
from app.pools.demo_load import load_demo_pool
from bench.common import (
    ROOT,
    Backend,
    Figure,
    at_least,
    at_most,
    emit,
    fresh_database,
    info,
    module_in_child,
    postgres_server,
    say,
)

CONNECTIONS = 64
WORKERS = 2
WARMUP_REQUESTS = 20
AIM_RPS = 1500.0
AIM_P99_MS = 50.0
# Plans drawn before the server starts; the first one's page is the one loaded.
DRAWN = ["2024-hazchem", "2024-coal", "2024-noncoal", "2024-industry", "2025-training"]
DIGITS = "38274619283746529183"
WITNESSES = ["王见证（市纪委监委派驻纪检监察组）", "李公证（衡阳市公证处）"]
ACTOR = "基准测试"
WRK_SCRIPT = Path(__file__).resolve().parent / "wrk_report.lua"


def prepare(url: str, data_dir: Path) -> str:
    """The demo pool and the DRAWN draws done; return the first draw's public id."""
    settings = Settings(database_url=url, data_dir=data_dir)
    engine = make_engine(url)
    factory = make_sessionmaker(engine)
    signer = open_signer(data_dir, resolve_origin(settings.log_origin, data_dir), factory)
    public_ids = []
    with factory() as session:
        load_demo_pool(session)
        for key in DRAWN:
            plan = service.create_plan(
                session, data=templates.TEMPLATES[key], actor=ACTOR, template_key=key
            )
            request = FreezeRequest.model_validate(
                {
                    "seed": {
                        "source": "dice",
                        "ceremony_at": datetime.now(UTC).isoformat(),
                        "witnesses": WITNESSES,
                    }
                }
            )
            draw = ceremony.freeze(session, plan=plan, request=request, actor=ACTOR)
            done = ceremony.reveal_dice(
                session,
                public_id=draw.public_id,
                reveal=DiceReveal(digits=DIGITS, witnesses=WITNESSES),
                operator=ACTOR,
                witness=Person(actor=ACTOR, name=WITNESSES[0]),
            )
            if done.status != "done":
                raise RuntimeError(f"{key}: the draw ended {done.status}")
            public_ids.append(done.public_id)
        session.commit()
    # Signed once the entries are committed, so that the data directory keeps it too.
    with factory() as session:
        store.sign_checkpoint(session, signer)
        session.commit()
    engine.dispose()
    return public_ids[0]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(url: str, data_dir: Path) -> Iterator[str]:
    """`shuangsui serve --workers 2` on a free port; yield its base URL; stop it."""
    port = _free_port()
    metrics = data_dir / f"metrics-{port}"  # empty at each start, as the README asks
    metrics.mkdir()
    env = os.environ | {
        "SHUANGSUI_DATA_DIR": str(data_dir),
        "SHUANGSUI_DATABASE_URL": url,
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }
    log_path = data_dir / f"server-{port}.log"
    command = [
        str(Path(sys.executable).parent / "shuangsui"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(WORKERS),
    ]
    with log_path.open("w") as log:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, server, log_path)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_ready(base: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/draws", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within 60 s: {log_path.read_text()[-2000:]}")


def load(
    url: str,
    seconds: float,
    *,
    connections: int = CONNECTIONS,
    threads: int = 2,
    paths: tuple[str, ...] = (),
) -> dict[str, float]:
    """Requests/s, p50 and p99 (ms) and failures of `url` under `connections` connections.

    With `paths`, each connection asks for them in turn on `url`'s server (wrk
    only). Latencies are those of the requests that completed within the run.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        assert not paths, "several paths need wrk"
        return module_in_child(
            "bench.httpload", url, "--connections", str(connections), "--seconds", str(seconds)
        )
    output = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            url,
            *(["--", *paths] if paths else []),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in output.splitlines() if x.startswith("WRK "))
    raw = json.loads(line.removeprefix("WRK "))
    return {
        "requests": raw["requests"],
        "requests_per_s": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["non_2xx"] + raw["socket_errors"] + raw["timeouts"],
    }


def warm_up(url: str) -> None:
    """A few requests one at a time, so that both workers have loaded templates and caches.

    Not with the load generator: requests it leaves in flight when it stops are
    still being served when the measured run starts (see the README).
    """
    for _ in range(WARMUP_REQUESTS):
        httpx.get(url, timeout=60).raise_for_status()


def run(backend: Backend, pg_admin_url: str | None, seconds: float) -> list[Figure]:
    """Prepare a database on `backend`; for each page, a fresh server, warmed up, loaded."""
    figures: list[Figure] = []
    with (
        fresh_database(backend, pg_admin_url) as url,
        tempfile.TemporaryDirectory(prefix="shuangsui-bench-api-") as tmp,
    ):
        data_dir = Path(tmp)
        public_id = prepare(url, data_dir)
        pages = {"draw page": f"/draws/{public_id}", "draw list": "/draws"}
        for name, path in pages.items():
            with serving(url, data_dir) as base:
                warm_up(base + path)
                r = load(base + path, seconds)
            say(
                f"  {backend} GET {path}: {r['requests_per_s']:,.0f} req/s, "
                f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                f"{int(r['requests']):,} requests, {int(r['errors'])} errors"
            )
            what = f"api {backend} {name} (GET {path.replace(public_id, '{id}')})"
            note = f"{int(r['errors'])} errors" if r["errors"] else None
            # With no request completed there is no latency to report.
            p50 = r["p50_ms"] if r["requests"] else None
            p99 = r["p99_ms"] if r["requests"] else None
            figures += [
                at_least(f"{what}: throughput", r["requests_per_s"], "req/s", AIM_RPS, note),
                info(f"{what}: p50", p50, "ms"),
                at_most(f"{what}: p99", p99, "ms", AIM_P99_MS),
            ]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("backend", nargs="?", default="both")
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        say(
            "  wrk is not installed (Debian: apt-get install wrk, or `make bench` as root): "
            "using bench/httpload.py, a slower Python load generator"
        )
    say(f"  {CONNECTIONS} connections, {WORKERS} workers, {args.seconds:g} s per page")
    figures: list[Figure] = []
    if args.backend in ("sqlite", "both"):
        figures += run("sqlite", None, args.seconds)
    if args.backend in ("postgresql", "both"):
        with postgres_server() as admin_url:
            if admin_url is not None:
                figures += run("postgresql", admin_url, args.seconds)
    emit(figures)


if __name__ == "__main__":
    main()
