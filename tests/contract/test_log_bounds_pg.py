"""Client-controlled values never drop a request-log row on PostgreSQL (issue 9).

Before: ``user`` over 256 characters, a NUL in ``user`` or ``prompt`` and ``model`` over 200 characters were
answered (200, billed) and the row was then refused by PostgreSQL and dropped. Now the API refuses them with a 400
naming the parameter, and the recorder stores any such value that reaches it by another path (NUL replaced, cut
to the column).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from imagegate.store.db import Database, run_migrations
from imagegate.store.models import RequestRow
from imagegate.telemetry.recorder import RequestRecord, RequestRecorder
from tests.helpers_server import ServerProcess

MODEL = "gemini-3-pro-image-preview"


@pytest.fixture
def gateway(pg_url: str, tmp_path) -> Iterator[ServerProcess]:  # noqa: F811
    proc = ServerProcess(tmp_path / "data", env={"IMAGEGATE_DATABASE_URL": pg_url, "IMAGEGATE_PLACEHOLDER": "on"})
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize(
    ("field", "value"),
    [("user", "u" * 257), ("user", "alice\x00"), ("prompt", "a fox\x00 in snow"), ("model", "m" * 201)],
)
def test_values_the_log_cannot_hold_are_a_clear_400(gateway: ServerProcess, field: str, value: str) -> None:
    body = {"model": MODEL, "prompt": "a fox", field: value}
    res = httpx.post(gateway.url + "/v1/images/generations", json=body, timeout=30)
    assert res.status_code == 400
    err = res.json()["error"]
    assert err["param"] == field and err["code"] == "INVALID_REQUEST"


def test_the_longest_accepted_values_are_logged(gateway: ServerProcess, pg_url: str) -> None:  # noqa: F811
    body = {"model": MODEL, "prompt": "a fox", "user": "u" * 256, "response_format": "b64_json"}
    res = httpx.post(gateway.url + "/v1/images/generations", json=body, timeout=30)
    assert res.status_code == 200
    rid = res.headers["x-imagegate-request-id"]
    db = Database(pg_url)
    try:
        deadline = time.monotonic() + 20
        while True:
            with db.session() as s:
                row = s.scalars(select(RequestRow).where(RequestRow.id == rid)).one_or_none()
            if row is not None or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling for the background writer
    finally:
        db.dispose()
    assert row is not None and row.user == "u" * 256 and row.status == 200


async def test_the_recorder_stores_what_postgresql_would_refuse(pg_url: str) -> None:  # noqa: F811
    run_migrations(pg_url)
    db = Database(pg_url)
    recorder = RequestRecorder(db, flush_interval_s=0.01)
    await recorder.start()
    recorder.record(RequestRecord(id="req_odd", created_at=time.time(), model="m" * 300, operation="generate",
                                  status=200, latency_ms=1.0, user="bob\x00" + "b" * 300, prompt="fox\x00",
                                  error_message="upstream said \x00"))  # fmt: skip
    await recorder.aclose()
    try:
        with db.session() as s:
            row = s.scalars(select(RequestRow).where(RequestRow.id == "req_odd")).one()
        assert recorder.dropped == 0
        assert row.model == "m" * 200 and len(row.user) == 256 and row.user.startswith("bob\ufffd")
        assert row.prompt == "fox\ufffd" and "\x00" not in row.error_message
    finally:
        db.dispose()
