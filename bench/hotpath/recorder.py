"""Micro-benchmark of the request log: CPU per logged request on the event loop and in the background writer.

Records N RequestRecords (one attempt each, shaped like the pipeline's) into a fresh database, then drains the
recorder, and reports CPU microseconds per record:
- ``record``: ``RequestRecorder.record`` on the event loop (the only part a request pays inline);
- ``writer``: the background writes (row building, inserts, commits), measured as the process CPU of the drain minus
  the event loop thread's own CPU in that time (``time.process_time`` - ``time.thread_time``);
- ``drain loop``: the event loop's share of the drain (scheduling the batches).

    .venv/bin/python bench/hotpath/recorder.py                  # SQLite, 50,000 records
    .venv/bin/python bench/hotpath/recorder.py --pg             # and PostgreSQL (own schema, dropped afterwards)
    .venv/bin/python bench/hotpath/recorder.py --rounds 3 -n 20000
    .venv/bin/python bench/hotpath/recorder.py --contended -n 5000 --pg   # the drain against a busy event loop

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

from imagegate.core.types import Attempt
from imagegate.store.db import Database, run_migrations
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.telemetry.recorder import RequestRecord, RequestRecorder

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
T0 = 1_767_268_800.0


def make_records(n: int) -> list[RequestRecord]:
    """Records like the pipeline's: one attempt each, one in twenty an upstream error with a message."""
    out = []
    for i in range(n):
        failed = i % 20 == 0
        started = T0 + i / 1000
        out.append(
            RequestRecord(
                id=f"req_{uuid.uuid4().hex}",
                created_at=started,
                model="nano-banana",
                model_id="gemini-2.5-flash-image",
                operation="generate",
                status=502 if failed else 200,
                latency_ms=12.5 + (i % 7),
                provider="gemini",
                provider_model_id="gemini-2.5-flash-image",
                error_class="Unavailable" if failed else None,
                error_message="upstream answered 503: model overloaded" if failed else None,
                ttfb_ms=None if failed else 10.25,
                cost_micros=0 if failed else 39_000,
                image_count=0 if failed else 1,
                image_bytes=0 if failed else 2048,
                attempts=[
                    Attempt(
                        provider="gemini",
                        provider_model_id="gemini-2.5-flash-image",
                        outcome="Unavailable" if failed else "success",
                        latency_ms=12.0 + (i % 7),
                        ttfb_ms=None if failed else 10.25,
                        status=503 if failed else 200,
                        error="model overloaded" if failed else None,
                        cost_micros=0 if failed else 39_000,
                        started_at=started,
                        images=0 if failed else 1,
                        bytes=0 if failed else 2048,
                    )
                ],
            )
        )
    return out


async def one_round(url: str, n: int, batch_size: int | None) -> dict[str, float]:
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        records = make_records(n)
        recorder = RequestRecorder(db, max_queued=n + 1, **({"batch_size": batch_size} if batch_size else {}))
        # Loop side: record() only, background task not running yet, so nothing else is on the CPU.
        c0 = time.process_time()
        for rec in records:
            recorder.record(rec)
        c1 = time.process_time()
        # Writer side: drain everything; the loop thread only awaits the batches.
        w0, t0, m0 = time.perf_counter(), time.process_time(), time.thread_time()
        await recorder.start()
        await recorder.aclose()
        w1, t1, m1 = time.perf_counter(), time.process_time(), time.thread_time()
        with db.engine.connect() as conn:
            got = (
                conn.scalar(select(func.count()).select_from(RequestRow)),
                conn.scalar(select(func.count()).select_from(AttemptRow)),
            )
        assert got == (n, n), f"expected {n} rows in each table, got {got}"
        assert recorder.dropped == 0
        loop_drain = m1 - m0
        return {
            "record_us": (c1 - c0) / n * 1e6,
            "writer_us": ((t1 - t0) - loop_drain) / n * 1e6,
            "drain_loop_us": loop_drain / n * 1e6,
            "wall_s": w1 - w0,
            "batches": recorder.batches,
        }
    finally:
        db.dispose()


def _work(units: int) -> None:
    x = 0
    for i in range(units):
        x += i * i


async def contended_round(url: str, n: int, batch_size: int | None) -> dict[str, float]:
    """The drain while the event loop is busy with pure-Python work in ~0.5 ms slices (a loaded gateway): how much
    of the loop's time the writer takes (GIL held by the writer per record) and how long single loop iterations
    (a slice and a loop tick, ~0.5 ms alone) take, GIL waits included."""
    await asyncio.to_thread(run_migrations, url)
    db = Database(url)
    try:
        units = 1
        while True:  # calibrate a slice of about 0.5 ms
            t = time.perf_counter()
            _work(units)
            if time.perf_counter() - t > 0.0005:
                break
            units *= 2
        solo = []
        for _ in range(400):
            t = time.perf_counter()
            _work(units)
            solo.append(time.perf_counter() - t)
        slice_s = statistics.median(solo)
        idle: list[float] = []  # the same loop iterations with no writer: the noise floor
        t = time.perf_counter()
        for _ in range(400):
            _work(units)
            await asyncio.sleep(0)
            now = time.perf_counter()
            idle.append(now - t)
            t = now
        idle.sort()
        recorder = RequestRecorder(db, max_queued=n + 1, **({"batch_size": batch_size} if batch_size else {}))
        for rec in make_records(n):
            recorder.record(rec)
        slices: list[float] = []  # one loop iteration each: the slice, a loop tick, and any wait for the GIL
        w0 = time.perf_counter()
        drain = asyncio.create_task(recorder.aclose(timeout_s=600))
        t = time.perf_counter()
        while not drain.done():
            _work(units)
            await asyncio.sleep(0)
            now = time.perf_counter()
            slices.append(now - t)
            t = now
        wall = time.perf_counter() - w0
        await drain
        assert recorder.written == n and recorder.dropped == 0
        lost = max(0.0, wall - len(slices) * slice_s)  # loop time not spent on its own work
        slices.sort()
        return {
            "gil_us": lost / n * 1e6,
            "slice_p99_ms": slices[int(len(slices) * 0.99)] * 1e3 if slices else 0.0,
            "slice_max_ms": slices[-1] * 1e3 if slices else 0.0,
            "idle_p99_ms": idle[int(len(idle) * 0.99)] * 1e3,
            "wall_s": wall,
            "records_per_s": n / wall,
        }
    finally:
        db.dispose()


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="ig-bench-") as tmp:
        yield f"sqlite:///{Path(tmp) / 'imagegate.db'}"


@contextmanager
def pg_url() -> Iterator[str]:
    schema = f"ig_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def run(label: str, url_factory, n: int, batch_size: int | None, rounds: int) -> None:  # type: ignore[no-untyped-def]
    results = []
    for _ in range(rounds):
        with url_factory() as url:
            results.append(asyncio.run(one_round(url, n, batch_size)))
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"{label:<11} n={n} batch={batch_size or 'default'} rounds={rounds}: record {med['record_us']:.2f} us/rec | "
        f"writer {med['writer_us']:.1f} us/rec | drain loop {med['drain_loop_us']:.2f} us/rec | "
        f"drain wall {med['wall_s']:.2f} s, {med['batches']:.0f} batches (medians)"
    )


def run_contended(label: str, url_factory, n: int, batch_size: int | None, rounds: int) -> None:  # type: ignore[no-untyped-def]
    results = []
    for _ in range(rounds):
        with url_factory() as url:
            results.append(asyncio.run(contended_round(url, n, batch_size)))
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"{label:<11} contended n={n} batch={batch_size or 'default'} rounds={rounds}: loop time taken by the "
        f"writer {med['gil_us']:.1f} us/rec | loop iterations (0.5 ms alone) p99 {med['slice_p99_ms']:.2f} ms, max "
        f"{med['slice_max_ms']:.1f} ms (no writer: p99 {med['idle_p99_ms']:.2f} ms) | drain {med['wall_s']:.2f} s = "
        f"{med['records_per_s']:.0f} rec/s (medians)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=50_000, help="records per round (default 50000)")
    ap.add_argument("--batch-size", type=int, default=None, help="RequestRecorder batch_size (default: its own)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds per database; medians are reported (default 3)")
    ap.add_argument("--pg", action="store_true", help=f"also PostgreSQL at {PG_SERVER}")
    ap.add_argument("--pg-only", action="store_true", help="PostgreSQL only")
    ap.add_argument(
        "--contended",
        action="store_true",
        help="drain while the event loop runs pure-Python work (use a smaller -n, e.g. 5000)",
    )
    args = ap.parse_args()
    runner = run_contended if args.contended else run
    if not args.pg_only:
        runner("sqlite", sqlite_url, args.n, args.batch_size, args.rounds)
    if args.pg or args.pg_only:
        runner("postgresql", pg_url, args.n, args.batch_size, args.rounds)


if __name__ == "__main__":
    main()
