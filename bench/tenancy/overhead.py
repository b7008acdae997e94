"""What a key's policy costs per request: the master key (no policy) against a database key with no limits, one with
rate limits, and one with a budget (a reservation and a settle per request), side by side on one gateway.

    .venv/bin/python bench/tenancy/overhead.py --requests 600 --concurrency 8 [--database-url postgresql+psycopg://...]

One ``imagegate serve`` (placeholder provider, SQLite by default) in a temporary directory; the four kinds of key are
interleaved in rounds of 50 requests so that they share the machine's noise. Prints a markdown table: requests per
second and latency percentiles per kind, and each kind's mean latency as a ratio of the master key's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from imagegate.testing.server import GatewayProcess  # noqa: E402

MASTER = "ig-bench-master-key-0123456789abcdef"
BODY = {"model": "nano-banana-pro", "prompt": "a lighthouse", "size": "256x256", "response_format": "b64_json"}
KINDS = {
    "master key": None,
    "key, no policy": {},
    "key, rate limits": {"rate_limits": {"requests_per_minute": 10_000_000, "images_per_minute": 10_000_000}},
    "key, budget": {"budget": {"usd": 1000.0, "period": "month"}},
}


async def run(requests: int, concurrency: int, env: dict[str, str]) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        server = GatewayProcess(Path(tmp) / "data", env={"IMAGEGATE_MASTER_KEY": MASTER, **env})
        try:
            server.wait_ready(60)
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
                keys = {}
                for kind, body in KINDS.items():
                    if body is None:
                        keys[kind] = MASTER
                        continue
                    r = await client.post(
                        "/v1/admin/keys", json={"name": kind, **body}, headers={"Authorization": f"Bearer {MASTER}"}
                    )
                    keys[kind] = r.json()["key"]
                latencies: dict[str, list[float]] = {k: [] for k in KINDS}
                sem = asyncio.Semaphore(concurrency)

                async def one(kind: str) -> None:
                    async with sem:
                        t0 = time.perf_counter()
                        r = await client.post(
                            "/v1/images/generations", json=BODY, headers={"Authorization": f"Bearer {keys[kind]}"}
                        )
                        assert r.status_code == 200, r.text
                        latencies[kind].append((time.perf_counter() - t0) * 1000)

                for kind in KINDS:  # warm-up
                    await asyncio.gather(*(one(kind) for _ in range(20)))
                    latencies[kind].clear()
                rounds = max(1, requests // 50)
                for _ in range(rounds):
                    for kind in KINDS:
                        await asyncio.gather(*(one(kind) for _ in range(50)))
                return latencies
        finally:
            server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600, help="per kind of key")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()
    env = {"IMAGEGATE_DATABASE_URL": args.database_url} if args.database_url else {}
    latencies = asyncio.run(run(args.requests, args.concurrency, env))
    base = statistics.mean(latencies["master key"])
    print(
        f"{args.requests} requests per kind, concurrency {args.concurrency}, "
        f"database {'SQLite' if not args.database_url else args.database_url.split('://')[0]}\n"
    )
    print("| key | mean ms | p50 ms | p95 ms | mean vs master |")
    print("|---|---|---|---|---|")
    for kind, values in latencies.items():
        values.sort()
        mean = statistics.mean(values)
        p95 = values[int(len(values) * 0.95) - 1]
        print(f"| {kind} | {mean:.2f} | {statistics.median(values):.2f} | {p95:.2f} | {mean / base:.2f}x |")


if __name__ == "__main__":
    main()
