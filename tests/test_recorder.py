"""The request recorder: non-blocking record(), batched transactions, nothing lost on failure or shutdown."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from imagegate.core.types import Attempt
from imagegate.store.db import Database, run_migrations
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.telemetry.recorder import RequestRecord, RequestRecorder, to_rows

SECRET = "ig-" + "s3cr3t" * 6


class FlakyDatabase(Database):
    """A real database whose writes fail while ``down`` (or for the next ``fail_next`` calls)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.down = False
        self.fail_next = 0
        self.write_calls = 0

    def write_log(self, requests, attempts) -> None:  # type: ignore[no-untyped-def]
        self.write_calls += 1
        if self.down or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise OperationalError("INSERT INTO requests ...", {"prompt": SECRET}, Exception("disk I/O error"))
        super().write_log(requests, attempts)


@pytest.fixture
def db(tmp_path) -> Iterator[FlakyDatabase]:
    url = f"sqlite:///{tmp_path}/imagegate.db"
    run_migrations(url)
    database = FlakyDatabase(url)
    yield database
    database.dispose()


@pytest.fixture
def commits(db: Database) -> list[str]:
    """Every COMMIT the SQLite connections run (the recorder commits on the DBAPI connection, below SQLAlchemy)."""
    seen: list[str] = []

    def trace(statement: str) -> None:
        if statement.strip().upper() == "COMMIT":
            seen.append(statement)

    event.listen(db.engine.pool, "checkout", lambda dbapi_conn, *_: dbapi_conn.set_trace_callback(trace))
    return seen


def make_record(i: int, attempts: int = 2, **kw) -> RequestRecord:  # type: ignore[no-untyped-def]
    fields = {
        "id": f"req_{i:06d}",
        "created_at": 1_767_268_800.0 + i,
        "model": "nano-banana",
        "model_id": "gemini-2.5-flash-image",
        "operation": "generate",
        "status": 200,
        "latency_ms": 1000.0 + i,
        "provider": "gemini",
        "provider_model_id": "gemini-2.5-flash-image",
        "attempts": [
            Attempt(
                provider="fal" if a == 0 and attempts > 1 else "gemini",
                provider_model_id="m",
                outcome="success" if a == attempts - 1 else "RateLimited",
                latency_ms=10.0 * (a + 1),
            )
            for a in range(attempts)
        ],
    }
    return RequestRecord(**(fields | kw))


def counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(RequestRow)) or 0,
            s.scalar(select(func.count()).select_from(AttemptRow)) or 0,
        )


def ids(db: Database) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(RequestRow.id)))


async def test_record_never_touches_the_database(db: FlakyDatabase) -> None:
    db.down = True
    recorder = RequestRecorder(db)
    for i in range(10):
        recorder.record(make_record(i))  # synchronous, returns at once, even with the database down
    assert db.write_calls == 0 and recorder.queued == 10


async def test_concurrent_records_all_land_after_aclose(db: FlakyDatabase, commits: list[str]) -> None:
    recorder = RequestRecorder(db)
    await recorder.start()

    async def producer(p: int) -> None:
        for j in range(40):
            recorder.record(make_record(p * 1000 + j))
            await asyncio.sleep(0)

    await asyncio.gather(*(producer(p) for p in range(50)))
    await recorder.aclose()
    assert counts(db) == (2000, 4000)
    assert recorder.written == 2000 and recorder.queued == 0 and recorder.dropped == 0
    assert recorder.batches == len(commits)
    assert len(commits) <= 20  # batched: a handful of transactions, not one per request


async def test_flush_writes_in_batches_of_batch_size(db: FlakyDatabase, commits: list[str]) -> None:
    recorder = RequestRecorder(db, batch_size=500)
    for i in range(1200):
        recorder.record(make_record(i, attempts=1))
    assert await recorder.flush() == 1200
    assert len(commits) == 3 and recorder.batches == 3  # 500 + 500 + 200, one transaction each
    assert counts(db) == (1200, 1200)
    assert await recorder.flush() == 0


async def test_failure_then_recovery_loses_nothing(db: FlakyDatabase, caplog: pytest.LogCaptureFixture) -> None:
    recorder = RequestRecorder(db)
    for i in range(10):
        recorder.record(make_record(i, prompt=SECRET))
    db.down = True
    with caplog.at_level(logging.ERROR, logger="imagegate.recorder"), pytest.raises(OperationalError):
        await recorder.flush()
    assert recorder.queued == 10 and recorder.failures == 1 and counts(db) == (0, 0)
    assert "will retry" in caplog.text and SECRET not in caplog.text and "disk I/O" not in caplog.text
    db.down = False
    for i in range(10, 15):
        recorder.record(make_record(i))
    await recorder.aclose()
    assert ids(db) == {f"req_{i:06d}" for i in range(15)}
    assert recorder.dropped == 0


async def test_background_task_and_aclose_retry_until_the_database_is_back(db: FlakyDatabase) -> None:
    recorder = RequestRecorder(db, flush_interval_s=0.001, max_backoff_s=0.002)
    await recorder.start()
    db.fail_next = 3
    for i in range(30):
        recorder.record(make_record(i))
    await recorder.aclose(timeout_s=10)
    assert counts(db) == (30, 60)
    assert recorder.failures == 3 and recorder.dropped == 0


async def test_background_task_retries_a_failed_batch_by_itself(db: FlakyDatabase) -> None:
    recorder = RequestRecorder(db, flush_interval_s=0.001, max_backoff_s=0.004)
    await recorder.start()
    db.fail_next = 2
    for i in range(5):
        recorder.record(make_record(i))
    async with asyncio.timeout(10):  # wait for the condition, not for a duration
        while recorder.written < 5:
            await asyncio.sleep(0.001)
    assert recorder.failures == 2 and counts(db) == (5, 10)
    await recorder.aclose()


async def test_queue_is_bounded_and_drops_the_oldest(db: FlakyDatabase, caplog: pytest.LogCaptureFixture) -> None:
    recorder = RequestRecorder(db, max_queued=100, batch_size=40)
    db.down = True
    with caplog.at_level(logging.ERROR, logger="imagegate.recorder"):
        for i in range(150):
            recorder.record(make_record(i))
        with pytest.raises(OperationalError):
            await recorder.flush()
    assert recorder.queued == 100 and recorder.dropped == 50
    assert "queue over 100 records: dropped 1 oldest" in caplog.text  # logged once, not once per record
    assert caplog.text.count("oldest") == 1
    db.down = False
    assert await recorder.flush() == 100
    assert ids(db) == {f"req_{i:06d}" for i in range(50, 150)}


async def test_a_rejected_record_does_not_block_the_batch(db: FlakyDatabase) -> None:
    recorder = RequestRecorder(db)
    recorder.record(make_record(1))
    await recorder.flush()
    for i in range(5):
        recorder.record(make_record(i))  # req_000001 again: a duplicate primary key
    assert await recorder.flush() == 4
    assert recorder.dropped == 1
    assert counts(db) == (5, 10)


async def test_aclose_gives_up_after_its_timeout(db: FlakyDatabase) -> None:
    recorder = RequestRecorder(db, flush_interval_s=0.001)
    await recorder.start()
    db.down = True
    recorder.record(make_record(1))
    await recorder.aclose(timeout_s=0)
    assert recorder.dropped == 1 and recorder.queued == 0


def test_rows_mapping() -> None:
    rec = make_record(7, error_message=f"upstream said: bad key {SECRET}", error_class="AuthFailed", status=502)
    rec.attempts[0].started_at = 1_767_268_800.5
    rec.attempts[0].error = f"Bearer {SECRET}"
    row, attempts = to_rows(rec)
    assert row["created_at"] == datetime(2026, 1, 1, 12, 0, 7, tzinfo=UTC)
    assert row["attempts_count"] == 2 and row["dry_run"] is False
    assert SECRET not in row["error_message"] and "[redacted]" in row["error_message"]
    assert SECRET not in attempts[0]["error"]
    assert attempts[0]["created_at"] == datetime(2026, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert attempts[1]["created_at"] == row["created_at"]  # no start time: the request's
    assert {a["model"] for a in attempts} == {"gemini-2.5-flash-image"}
    assert [a["request_id"] for a in attempts] == ["req_000007"] * 2
    anonymous = RequestRecord(id="", created_at=0.0, model="m", operation="generate", status=400, latency_ms=1.0)
    assert to_rows(anonymous)[0]["id"].startswith("req_")  # never an empty primary key


async def test_a_record_that_does_not_convert_is_dropped_alone(db: FlakyDatabase) -> None:
    recorder = RequestRecorder(db)
    for i in range(5):
        recorder.record(make_record(i, latency_ms="slow" if i == 2 else 1.0))  # type: ignore[arg-type]
    assert await recorder.flush() == 4
    assert recorder.dropped == 1 and recorder.queued == 0
    assert ids(db) == {f"req_{i:06d}" for i in (0, 1, 3, 4)}
