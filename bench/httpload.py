"""A bounded HTTP load generator, for when `wrk` is not installed.

`python -m bench.httpload URL [--connections 64] [--seconds 10]` keeps exactly
`connections` requests in flight (one keep-alive connection each) for the
given time and prints one JSON line: requests, requests/s, p50/p99 latency in
milliseconds, and how many answers were not 200. Python is a slower load
generator than wrk: on a small machine it may saturate before the server does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


async def _worker(
    client: httpx.AsyncClient, url: str, deadline: float, latencies: list[float]
) -> int:
    failures = 0
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        response = await client.get(url)
        latencies.append(time.perf_counter() - start)
        if response.status_code != 200:
            failures += 1
    return failures


async def run(url: str, connections: int, seconds: float) -> dict[str, float]:
    """Load `url` with `connections` concurrent keep-alive connections for `seconds`."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    latencies: list[float] = []
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:
        started = time.perf_counter()
        deadline = started + seconds
        failures = await asyncio.gather(
            *(_worker(client, url, deadline, latencies) for _ in range(connections))
        )
        elapsed = time.perf_counter() - started
    latencies.sort()

    def percentile(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "requests_per_s": len(latencies) / elapsed,
        "p50_ms": percentile(0.50),
        "p99_ms": percentile(0.99),
        "errors": sum(failures),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.connections, args.seconds))))


if __name__ == "__main__":
    main()
