"""Shared contract-test plumbing: a fake fleet in a thread, a gateway in front of it, and the request log as the
gateway's background writer leaves it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import select

from imagegate.store.db import Database
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess


@contextlib.contextmanager
def running_fleet(fleet: Fleet) -> Iterator[ThreadedFleet]:
    threaded = ThreadedFleet(fleet)
    threaded.start()
    try:
        yield threaded
    finally:
        threaded.stop()


@contextlib.contextmanager
def running_gateway(data_dir: Path, env: dict[str, str], config: Path | None = None) -> Iterator[ServerProcess]:
    proc = ServerProcess(data_dir, env=env, config=config)
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def logged_requests(db_url: str, timeout: float = 20.0) -> list[tuple[RequestRow, list[AttemptRow]]]:
    """Every logged request with its attempts, once at least one is there (the recorder writes in the background)."""
    db = Database(db_url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            with db.session() as s:
                rows = list(s.scalars(select(RequestRow)))
                if rows or time.monotonic() > deadline:
                    return [(r, list(s.scalars(select(AttemptRow).where(AttemptRow.request_id == r.id)))) for r in rows]
            time.sleep(0.05)  # polling for the background writer, not timing a result
    finally:
        db.dispose()


def sqlite_url(gateway: ServerProcess) -> str:
    return f"sqlite:///{gateway.data_dir}/imagegate.db"
