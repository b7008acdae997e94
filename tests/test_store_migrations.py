"""Migrations on a fresh SQLite file and on the real PostgreSQL server (own schema, dropped afterwards)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from imagegate.core.types import Attempt
from imagegate.store.db import Database, alembic_config, current_revision, run_migrations
from imagegate.store.models import AttemptRow, Base, RequestRow
from imagegate.telemetry.recorder import RequestRecord, RequestRecorder, provider_stats

TABLES = {
    "requests",
    "attempts",
    "api_keys",
    "blobs",
    "alembic_version",
    "arena_battles",
    "arena_definitions",
    "web_generations",
    "gallery_entries",
}


def _head() -> str:
    """The latest revision shipped (several helpers add migrations; the lead chains them)."""

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def _assert_schema_matches_models(db: Database) -> None:
    with db.engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) >= TABLES
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_sqlite_fresh_migration_is_idempotent(tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/imagegate.db"
    assert (tmp_path / "nested").exists() is False
    run_migrations(url)
    run_migrations(url)  # a second start changes nothing
    assert current_revision(url) == _head()
    db = Database(url)
    try:
        _assert_schema_matches_models(db)
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    finally:
        db.dispose()


def test_concurrent_migrations_on_one_sqlite_file(tmp_path) -> None:
    """Several workers starting together must not race on CREATE TABLE."""
    url = f"sqlite:///{tmp_path}/imagegate.db"

    async def many() -> None:
        await asyncio.gather(*(asyncio.to_thread(run_migrations, url) for _ in range(4)))

    asyncio.run(many())
    assert current_revision(url) == _head()


def test_postgresql_migration_is_idempotent(pg_url: str) -> None:
    run_migrations(pg_url)
    run_migrations(pg_url)
    assert current_revision(pg_url) == _head()
    db = Database(pg_url)
    try:
        _assert_schema_matches_models(db)
        with db.engine.connect() as conn:
            schema = conn.execute(text("SELECT current_schema()")).scalar()
            assert schema.startswith("ig_test_")
    finally:
        db.dispose()


async def test_postgresql_request_log_round_trip(pg_url: str) -> None:
    """The recorder's batched insert and the stats query work on PostgreSQL (timestamptz, bigint ids)."""
    await asyncio.to_thread(run_migrations, pg_url)
    db = Database(pg_url)
    recorder = RequestRecorder(db)
    now = datetime.now(UTC)
    try:
        for i in range(20):
            ok = i % 4 != 0
            recorder.record(
                RequestRecord(
                    id=f"req_{i}",
                    created_at=now.timestamp(),
                    model="nano-banana",
                    model_id="gemini-2.5-flash-image",
                    operation="generate",
                    status=200 if ok else 502,
                    latency_ms=100.0 + i,
                    provider="gemini",
                    attempts=[
                        Attempt(
                            provider="gemini",
                            provider_model_id="gemini-2.5-flash-image",
                            outcome="success" if ok else "Unavailable",
                            latency_ms=float(100 + i),
                            ttfb_ms=float(10 + i) if ok else None,
                            started_at=now.timestamp(),
                        )
                    ],
                )
            )
        await recorder.aclose()
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(RequestRow)) == 20
            assert s.scalar(select(func.count()).select_from(AttemptRow)) == 20
            created = s.scalar(select(RequestRow.created_at).where(RequestRow.id == "req_3"))
        assert created is not None and abs(created - now) < timedelta(milliseconds=1)
        stats = await asyncio.to_thread(provider_stats, db, "gemini-2.5-flash-image", now - timedelta(minutes=1))
        assert [(s["provider"], s["requests"], s["successes"]) for s in stats] == [("gemini", 20, 15)]
    finally:
        db.dispose()
