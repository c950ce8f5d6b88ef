"""Ceremonies and public pages while idle attackers hold connections:
`python -m bench.bench_hostile [--seconds S] [--attackers N] [--readers N]`.

`shuangsui serve --workers 2` on a fresh SQLite database with the Hengyang demo
pool, on loopback. Two runs, the same but for the attackers: `--readers` public
readers loop over the draw list and a draw's page (wrk's connections, one C
thread, when wrk is installed; else asyncio/httpx clients, whose own cost on
these two cores then shows in the figures); an operator (and a witness)
run draw ceremonies one after another (plan from a template, freeze, enter the
dice digits, confirm them), each step timed; with attackers, `--attackers`
connections send the headers of an authenticated `POST /api/v1/plans` with a
`Content-Length` and never the body, and connect again whenever the server
closes them (after its body timeout). The first seconds, while the readers
fill the page cache, are not timed. Failed page reads are counted. Prints p50/p99 of each beside the other.
Everything is bounded in time and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

from app.draws.templates import TEMPLATES
from bench.bench_api import load
from bench.common import ROOT, Figure, at_most, emit, fresh_database, info, say
from tests.test_concurrency import free_port, prepare_service, service_env

DIGITS = "38274619283746529183"
# Readers and attackers start this long before anything is timed, so that the
# figures are of a server under load, not of the first renderings after start.
WARM_UP_SECONDS = 3.0
WITNESSES = ["王见证（纪检监察组）", "李公证（公证处）"]


@contextmanager
def serving(url: str, data_dir: Path) -> Iterator[tuple[str, dict[str, str]]]:
    keys = prepare_service(url, data_dir)
    port = free_port()
    command = [sys.executable, "-c", "from app.cli import main; main()", "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", "2"]
    log = (data_dir / "serve.log").open("ab")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=service_env(url, data_dir) | {"SHUANGSUI_PUBLIC_RENDER_RATE": "1000000/minute"},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base, keys
    finally:
        os.killpg(process.pid, 15)
        process.wait(20)
        log.close()
        # Kept for reading after the run: the data directory goes with the database.
        kept = Path(tempfile.gettempdir()) / "bench-hostile-serve.log"
        with kept.open("ab") as out:
            out.write((data_dir / "serve.log").read_bytes())


def _p(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _attacker(port: int, key: str, until: float) -> None:
    head = (
        "POST /api/v1/plans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {key}\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(head + b'{"title": "')
            await writer.drain()
            await asyncio.wait_for(reader.read(), timeout=max(0.1, until - time.monotonic()))
            writer.close()
        except (TimeoutError, OSError):
            pass


async def _reader(
    base: str,
    page: str,
    span: tuple[float, float],
    times: list[float],
    failures: list[str],
) -> None:
    measured_from, until = span
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while time.monotonic() < until:
            for path in ("/draws", page):
                started = time.monotonic()
                try:
                    response = await client.get(path)
                except httpx.TransportError as exc:
                    # Counted, not fatal: a dropped connection is a figure of its own.
                    failures.append(f"{path}: {type(exc).__name__}")
                    continue
                if started < measured_from:
                    continue  # warming up: the first renderings fill the page cache
                if response.status_code == 200:
                    times.append(time.monotonic() - started)
                else:
                    failures.append(f"{path}: {response.status_code}")


async def _ceremonies(base: str, keys: dict[str, str], until: float) -> dict[str, list[float]]:
    steps: dict[str, list[float]] = {"plan": [], "freeze": [], "seed": [], "confirm": []}
    operator = {"X-API-Key": keys["operator"]}
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=operator) as api:

        async def step(name: str, path: str, **kwargs: object) -> dict[str, object] | None:
            started = time.perf_counter()
            response = await api.post(path, **kwargs)  # type: ignore[arg-type]
            if response.status_code == 422:  # a plan whose frame drawing has emptied
                return None
            steps[name].append(time.perf_counter() - started)
            assert response.status_code in (200, 201), response.text
            body: dict[str, object] = response.json()
            return body

        plans = sorted(TEMPLATES)
        while plans and time.monotonic() < until:
            key = plans[len(steps["plan"]) % len(plans)]
            plan = await step("plan", f"/api/v1/plans/from-template/{key}")
            assert plan is not None
            # The ceremony is announced for now: digits are accepted only within its window.
            ceremony_at = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            seed = {"source": "dice", "ceremony_at": ceremony_at, "witnesses": WITNESSES}
            frozen = await step("freeze", f"/api/v1/plans/{plan['id']}/freeze", json={"seed": seed})
            if frozen is None:
                plans.remove(key)
                continue
            draw = f"/api/v1/draws/{frozen['public_id']}"
            await step("seed", f"{draw}/seed", json={"digits": DIGITS, "witnesses": WITNESSES})
            await step(
                "confirm",
                f"{draw}/seed/confirm",
                json={"digits": DIGITS},
                # the confirming witness names themself: one of those announced
                headers={"X-API-Key": keys["witness"], "X-Actor": quote(WITNESSES[0])},
            )
    return steps


@dataclass
class Reads:
    """The public readers' figures over the timed span."""

    count: int
    p50_ms: float | None
    p99_ms: float | None
    failures: list[str]
    by: str  # the load generator


async def _python_readers(
    base: str, paths: tuple[str, str], readers: int, span: tuple[float, float]
) -> Reads:
    times: list[float] = []
    failures: list[str] = []
    await asyncio.gather(*(_reader(base, paths[1], span, times, failures) for _ in range(readers)))
    return Reads(len(times), _p(times, 0.5), _p(times, 0.99), failures, "asyncio/httpx")


async def _wrk_readers(base: str, paths: tuple[str, str], readers: int, seconds: float) -> Reads:
    """The readers as wrk's connections, each going from the list to the page and back.

    wrk is written in C: its connections cost the two cores far less than
    Python clients would, so the figures are the server's, not the generator's.
    """
    await asyncio.to_thread(
        load, base + paths[0], WARM_UP_SECONDS, connections=readers, threads=1, paths=paths
    )
    done = await asyncio.to_thread(
        load, base + paths[0], seconds, connections=readers, threads=1, paths=paths
    )
    errors = int(done["errors"])
    return Reads(int(done["requests"]), done["p50_ms"], done["p99_ms"], ["wrk"] * errors, "wrk")


async def _run(
    base: str, keys: dict[str, str], seconds: float, attackers: int, readers: int
) -> tuple[dict[str, list[float]], Reads]:
    port = int(base.rsplit(":", 1)[1])
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        listed = (await client.get("/api/v1/draws")).json()
        items = listed["items"] if isinstance(listed, dict) else listed
    paths = ("/draws", f"/draws/{items[0]['public_id']}" if items else "/log")
    measured_from = time.monotonic() + WARM_UP_SECONDS
    until = measured_from + seconds
    attacks = asyncio.gather(*(_attacker(port, keys["operator"], until) for _ in range(attackers)))
    if shutil.which("wrk"):
        reading = asyncio.ensure_future(_wrk_readers(base, paths, readers, seconds))
    else:
        reading = asyncio.ensure_future(
            _python_readers(base, paths, readers, (measured_from, until))
        )
    await asyncio.sleep(WARM_UP_SECONDS)
    steps = await _ceremonies(base, keys, until)
    await attacks
    return steps, await reading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--attackers", type=int, default=64)
    parser.add_argument("--readers", type=int, default=64)
    args = parser.parse_args()
    figures: list[Figure] = []
    for attackers in (0, args.attackers):
        with (
            fresh_database("sqlite") as url,
            tempfile.TemporaryDirectory(prefix="shuangsui-hostile-") as data,
            serving(url, Path(data)) as (base, keys),
        ):
            # One done draw first, so that the readers read a real draw page.
            asyncio.run(_ceremonies(base, keys, time.monotonic() + 0.1))
            steps, reads = asyncio.run(_run(base, keys, args.seconds, attackers, args.readers))
        label = f"{attackers} idle attackers, {args.readers} readers"
        all_steps = [t for times in steps.values() for t in times]
        say(f"{label}: {len(all_steps)} ceremony steps, {reads.count} page reads ({reads.by})")
        for name, times in steps.items():
            say(
                f"  {name:<8} p50 {_p(times, 0.5) or 0:8.1f} ms  p99 {_p(times, 0.99) or 0:8.1f} ms"
                f"  slowest {[round(t * 1000) for t in sorted(times)[-3:]]}"
            )
        say(f"  pages    p50 {reads.p50_ms or 0:8.1f} ms  p99 {reads.p99_ms or 0:8.1f} ms")
        if reads.failures:
            say(
                f"  failed page reads: {len(reads.failures)}, e.g. {sorted(set(reads.failures))[:5]}"
            )
        figures.append(at_most(f"ceremony step p99, {label}", _p(all_steps, 0.99), "ms", 1000))
        figures.append(at_most(f"public page p99, {label}", reads.p99_ms, "ms", 200))
        figures.append(info(f"ceremony steps done, {label}", len(all_steps), "steps"))
        figures.append(at_most(f"failed page reads, {label}", len(reads.failures), "reads", 0))
    emit(figures)


if __name__ == "__main__":
    main()
