"""Fixtures shared by the unit tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from imagegate.store.db import Database, run_migrations

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    """A migrated SQLite database of the test's own."""
    url = f"sqlite:///{tmp_path}/imagegate.db"
    run_migrations(url)
    database = Database(url)
    yield database
    database.dispose()


def _pg_answers() -> str | None:
    """``None`` when the server answers, else why not."""
    import psycopg

    try:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=3):
            return None
    except psycopg.OperationalError as exc:
        return f"PostgreSQL at 127.0.0.1:5432 does not answer ({type(exc).__name__})"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL of the real PostgreSQL server in a schema of the test's own, dropped afterwards."""
    reason = _pg_answers()
    if reason:
        pytest.skip(reason)
    schema = f"ig_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_SERVER)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_db(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    """The same test on a migrated SQLite file and on PostgreSQL (its own schema)."""
    url = f"sqlite:///{tmp_path}/imagegate.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    run_migrations(url)
    database = Database(url)
    yield database
    database.dispose()
