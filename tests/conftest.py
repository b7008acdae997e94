"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagegate.store.db import Database, run_migrations


@pytest.fixture
def db(tmp_path) -> Iterator[Database]:
    """A migrated SQLite database of the test's own."""
    url = f"sqlite:///{tmp_path}/imagegate.db"
    run_migrations(url)
    database = Database(url)
    yield database
    database.dispose()
