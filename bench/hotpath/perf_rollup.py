"""The performance rollup's cost per logged attempt: ``store.perf_daily.refresh`` folding new attempts in.

The web layer refreshes the rollup every 30 s in a thread of the serving process (``web/perf.PagePerformance``), so
every attempt the gateway logs is read back once and folded into its (model, provider, day) cell: at a steady
request rate this is CPU per request, taken beside the request path. Logs ``-n`` requests (one attempt each,
``recorder.make_records``) into a fresh database with the project's own schema, then times one ``refresh`` over
them (process CPU and wall time), per round.

    .venv/bin/python bench/hotpath/perf_rollup.py              # SQLite, 100,000 attempts, 3 rounds
    .venv/bin/python bench/hotpath/perf_rollup.py --pg         # PostgreSQL (own schema, dropped after)

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import make_records, pg_url, sqlite_url  # noqa: E402

from imagegate.store import perf_daily  # noqa: E402
from imagegate.store.db import Database, run_migrations  # noqa: E402
from imagegate.telemetry.recorder import RequestRecorder  # noqa: E402


async def fill(db: Database, n: int) -> None:
    recorder = RequestRecorder(db, max_queued=n + 1)
    for rec in make_records(n):
        recorder.record(rec)
    await recorder.start()
    await recorder.aclose()


def one(url: str, n: int) -> tuple[float, float]:
    """CPU and wall microseconds per attempt of one refresh over ``n`` fresh attempts."""
    run_migrations(url)
    db = Database(url)
    try:
        asyncio.run(fill(db, n))
        c0, w0 = time.process_time(), time.perf_counter()
        read = perf_daily.refresh(db.engine)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        assert read == n, (read, n)
        return cpu / n * 1e6, wall / n * 1e6
    finally:
        db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--pg", action="store_true", help="PostgreSQL at 127.0.0.1:5432/test instead of SQLite")
    args = p.parse_args()
    url_of = pg_url if args.pg else sqlite_url
    results = []
    for _ in range(args.rounds):
        with url_of() as url:
            results.append(one(url, args.n))
    where = "PostgreSQL" if args.pg else "SQLite"
    print(f"{where}, one refresh over {args.n:,} new attempts; per attempt, CPU / wall:")
    print("  " + ", ".join(f"{cpu:.1f} / {wall:.1f} us" for cpu, wall in results))


if __name__ == "__main__":
    main()
