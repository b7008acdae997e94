"""The request log's bulk writer: column lists, timestamps, chunked SQLite inserts, COPY on PostgreSQL, errors."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from imagegate.store.db import Database, run_migrations
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.store.request_log import ATTEMPT_COLUMNS, REQUEST_COLUMNS, SqliteTimestamps, aware_utc

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_db(db: Database) -> Database:
    return db  # tests/conftest.py


def request_row(db: Database, i: int, **kw) -> tuple:  # type: ignore[no-untyped-def]
    values = {
        "id": f"req_{i:05d}",
        "created_at": db.log_time(T0 + timedelta(seconds=i, microseconds=i)),
        "key_id": None,
        "model": "nano-banana",
        "model_id": "gemini-2.5-flash-image",
        "operation": "generate",
        "provider": "gemini",
        "provider_model_id": "m",
        "status": 200,
        "error_class": None,
        "error_message": None,
        "latency_ms": 10.5 + i,
        "ttfb_ms": None,
        "cost_micros": 39_000 + i,
        "image_count": 1,
        "image_bytes": 2048,
        "attempts_count": 1,
        "prompt": "a cat" if i % 2 else None,
        "dry_run": i % 3 == 0,
        "user": "u",
    } | kw
    return tuple(values[c] for c in REQUEST_COLUMNS)


def attempt_row(db: Database, i: int) -> tuple:
    values = {
        "request_id": f"req_{i:05d}",
        "created_at": db.log_time(T0.timestamp() + i + 0.25),
        "model": "gemini-x",
        "provider": "gemini",
        "provider_model_id": "m",
        "outcome": "success",
        "status": 200,
        "error": None,
        "latency_ms": 9.0,
        "ttfb_ms": 1.5,
        "cost_micros": 39_000,
        "hedged": i % 2 == 1,
        "image_count": 1,
        "image_bytes": 2048,
        "possibly_billed": i % 5 == 0,
        "limit_hit": "attempt_timeout" if i % 7 == 0 else None,
    }
    return tuple(values[c] for c in ATTEMPT_COLUMNS)


def counts(db: Database) -> tuple[int, int]:
    with db.session() as s:
        return (
            s.scalar(select(func.count()).select_from(RequestRow)) or 0,
            s.scalar(select(func.count()).select_from(AttemptRow)) or 0,
        )


def test_column_lists_match_the_tables() -> None:
    assert set(REQUEST_COLUMNS) == set(RequestRow.__table__.columns.keys())
    assert set(ATTEMPT_COLUMNS) == set(AttemptRow.__table__.columns.keys()) - {"id"}  # autoincrement
    assert len(set(REQUEST_COLUMNS)) == len(REQUEST_COLUMNS) and len(set(ATTEMPT_COLUMNS)) == len(ATTEMPT_COLUMNS)


def test_sqlite_timestamps_match_what_sqlalchemy_stores() -> None:
    stamp = SqliteTimestamps(max_cached=8)  # small: the cache is cleared many times below
    rng = random.Random(7)
    values = [0.0, 1.0, -1.5, 1_767_268_800.0, 1_767_268_800.9999996, 1_767_268_800.0000004, 1_767_268_800.5000005]
    values += [rng.uniform(0, 4e9) for _ in range(5000)]
    values += [float(int(rng.uniform(0, 4e9))) + 0.9999995 for _ in range(50)]  # rounds up to the next second
    for ts in values:
        expected = datetime.fromtimestamp(ts, UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
        assert stamp(ts) == expected, ts
    assert stamp(datetime(2026, 1, 1, 12, 0, 7)) == "2026-01-01 12:00:07.000000"  # naive: taken as UTC
    assert stamp(datetime(2026, 1, 1, 13, 0, 7, 5, tzinfo=timezone(timedelta(hours=1)))) == "2026-01-01 12:00:07.000005"
    assert len(stamp._seconds) <= 8


def test_aware_utc() -> None:
    assert aware_utc(T0.timestamp()) == T0 and aware_utc(T0.timestamp()).tzinfo is UTC
    assert aware_utc(datetime(2026, 1, 1, 12, 0)) == T0
    assert aware_utc(datetime(2026, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))) == T0


def round_trip(db: Database) -> None:
    """700 rows: chunks of 256, 256, 128, 32, 16, 8 and 4 on SQLite; values and timestamps read back unchanged."""
    n = 700
    db.write_log([request_row(db, i) for i in range(n)], [attempt_row(db, i) for i in range(n)])
    assert counts(db) == (n, n)
    with db.session() as s:
        rows = {r.id: r for r in s.scalars(select(RequestRow))}
        attempts = {a.request_id: a for a in s.scalars(select(AttemptRow))}
    for i in (0, 1, 255, 256, 511, 512, 699):
        row, attempt = rows[f"req_{i:05d}"], attempts[f"req_{i:05d}"]
        assert row.created_at == T0 + timedelta(seconds=i, microseconds=i)
        assert (row.latency_ms, row.cost_micros, row.dry_run, row.prompt) == (
            10.5 + i,
            39_000 + i,
            i % 3 == 0,
            "a cat" if i % 2 else None,
        )
        assert row.user == "u" and row.ttfb_ms is None and row.key_id is None
        assert attempt.created_at == T0 + timedelta(seconds=i, milliseconds=250)
        assert attempt.hedged is (i % 2 == 1) and attempt.ttfb_ms == 1.5
    # the window query sees the new rows: stored text sorts like SQLAlchemy's own
    assert len(db.attempt_samples("gemini-x", T0 + timedelta(seconds=600))) == n - 600


def rejected_batch_is_atomic(db: Database) -> None:
    db.write_log([request_row(db, 1)], [attempt_row(db, 1)])
    batch = [request_row(db, i) for i in range(2, 300)] + [request_row(db, 1)]  # a duplicate at the end
    with pytest.raises(IntegrityError) as info:
        db.write_log(batch, [attempt_row(db, i) for i in range(2, 300)])
    assert "a cat" not in str(info.value)  # no parameters in the message
    assert counts(db) == (1, 1)  # nothing of the rejected batch, on either table
    db.write_log([request_row(db, 2)], [attempt_row(db, 2)])  # the connection is usable again
    assert counts(db) == (2, 2)


def test_sqlite_round_trip(sqlite_db: Database) -> None:
    round_trip(sqlite_db)


def test_sqlite_rejected_batch_is_atomic(sqlite_db: Database) -> None:
    rejected_batch_is_atomic(sqlite_db)


def test_empty_write_is_a_no_op(sqlite_db: Database) -> None:
    sqlite_db.write_log([], [])
    assert counts(sqlite_db) == (0, 0)


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:  # noqa: F811
    run_migrations(pg_url)
    db = Database(pg_url)
    yield db
    db.dispose()


def test_postgresql_round_trip(pg_db: Database) -> None:
    assert pg_db.log_time(T0.timestamp()) == T0
    round_trip(pg_db)


def test_postgresql_rejected_batch_is_atomic(pg_db: Database) -> None:
    rejected_batch_is_atomic(pg_db)
