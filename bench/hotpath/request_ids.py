"""Request ids in time order against random ones: the request log's write cost once the log holds rows.

The requests table is keyed by the request id and attempts has an index on it, so where a new id falls in the
B-tree decides how much of the index each insert touches. Fills a fresh database (the project's own schema and
``RequestRecorder``) with ``--prefill`` requests, then logs ``-n`` more and reports the writer's CPU microseconds
per logged request (as ``recorder.py`` measures it), for each id scheme, alternating:

- ``random``: ``req_`` + 96 random bits (the ids before 2026-12-02);
- ``ordered``: ``api/app.new_request_id`` (``req_`` + milliseconds + 96 random bits).

    .venv/bin/python bench/hotpath/request_ids.py                       # SQLite, 200,000 + 50,000, 2 rounds
    .venv/bin/python bench/hotpath/request_ids.py --pg --prefill 100000  # PostgreSQL (own schema, dropped after)

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from recorder import make_records, pg_url, sqlite_url  # noqa: E402

from imagegate.api.app import new_request_id  # noqa: E402
from imagegate.store.db import Database, run_migrations  # noqa: E402
from imagegate.telemetry.recorder import RequestRecorder  # noqa: E402

SCHEMES: dict[str, Callable[[], str]] = {
    "random": lambda: "req_" + secrets.token_hex(12),
    "ordered": new_request_id,
}


async def log(db: Database, n: int, ids: Callable[[], str]) -> float:
    """Log ``n`` records with ids from ``ids``; the writer's CPU seconds."""
    records = make_records(n)
    for rec in records:
        rec.id = ids()
    recorder = RequestRecorder(db, max_queued=n + 1)
    for rec in records:
        recorder.record(rec)
    t0, m0 = time.process_time(), time.thread_time()
    await recorder.start()
    await recorder.aclose()
    return (time.process_time() - t0) - (time.thread_time() - m0)


async def one(url: str, scheme: str, prefill: int, n: int) -> float:
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        ids = SCHEMES[scheme]
        for start in range(0, prefill, 50_000):
            await log(db, min(50_000, prefill - start), ids)
        return await log(db, n, ids) / n * 1e6
    finally:
        db.dispose()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=50_000)
    p.add_argument("--prefill", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--pg", action="store_true", help="PostgreSQL at 127.0.0.1:5432/test instead of SQLite")
    args = p.parse_args()
    results: dict[str, list[float]] = {s: [] for s in SCHEMES}
    url_of = pg_url if args.pg else sqlite_url
    for _ in range(args.rounds):
        for scheme in SCHEMES:
            with url_of() as url:
                results[scheme].append(asyncio.run(one(url, scheme, args.prefill, args.n)))
    where = "PostgreSQL" if args.pg else "SQLite"
    print(f"{where}, {args.prefill:,} requests logged first, then {args.n:,} measured; writer CPU per request:")
    for scheme, values in results.items():
        print(f"  {scheme:8s} " + " / ".join(f"{v:.1f} us" for v in values))


if __name__ == "__main__":
    main()
