"""The jobs table as a queue, on SQLite and on the real PostgreSQL server: exclusive claims under concurrency,
leases, recovery of a dead runner's jobs, and the webhook retry schedule."""

from __future__ import annotations

import threading
from datetime import timedelta

import orjson
import pytest

from imagegate.jobs.deliveries import DeliveryStore
from imagegate.jobs.store import INTERRUPTED, JobStore
from imagegate.store.db import Database, utcnow


@pytest.fixture
def db(sql_db: Database) -> Database:
    return sql_db  # SQLite and PostgreSQL (tests/conftest.py)


def _job(store: JobStore) -> str:
    return store.create("", "generate", "m", b"{}", None, None).id


def test_claims_are_exclusive_across_concurrent_runners(db: Database) -> None:
    store = JobStore(db)
    ids = {_job(store) for _ in range(30)}
    claimed: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def runner(name: str) -> None:
        start.wait()
        while True:
            got = store.claim(name, lease_s=60, limit=2)
            if not got:
                return
            with lock:
                claimed.extend(j.id for j in got)

    threads = [threading.Thread(target=runner, args=(f"r{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == sorted(ids)  # every job once, none twice
    assert store.count("running") == 30


def test_dead_runner_jobs_are_requeued_then_failed(db: Database) -> None:
    store = JobStore(db)
    job_id = _job(store)
    for run in (1, 2):
        (job,) = store.claim("dead", lease_s=60, limit=1)
        assert job.runs == run
        assert store.recover(max_runs=2) == (0, [])  # lease still valid: left alone
        assert store.recover(max_runs=2, now=utcnow() + timedelta(seconds=61)) == (
            (1, []) if run == 1 else (0, [job_id])
        )
    row = store.get(job_id)
    assert row is not None and row.status == "failed"
    assert orjson.loads(row.error or "{}")["code"] == INTERRUPTED


def test_lease_renewal_finish_cancel_and_release(db: Database) -> None:
    store = JobStore(db)
    a, b = _job(store), _job(store)
    store.claim("r1", lease_s=60, limit=2)
    assert store.renew(a, "r1", 60) and not store.renew(a, "r2", 60)
    assert store.cancel(a, "").status == "cancelled"  # type: ignore[union-attr]
    assert not store.renew(a, "r1", 60)  # the runner learns it was cancelled
    assert not store.finish(a, "r1", "succeeded", result={"data": []})  # a cancelled job stays cancelled
    assert store.cancel(a, "someone-else") is None
    assert store.release("r1") == 1
    row = store.get(b)
    assert row is not None and row.status == "queued" and row.runner is None


def test_delivery_retry_schedule(db: Database) -> None:
    deliveries = DeliveryStore(db)
    deliveries.add("job_1", "", "image.job.succeeded", "http://x/", b"{}", "msg_1")
    delays = (0.0, 0.0)
    states = []
    for _ in range(3):
        (row,) = deliveries.claim_due(lease_s=60, limit=5)
        assert deliveries.claim_due(lease_s=60, limit=5) == []  # claimed: not handed out twice
        states.append(deliveries.settle(row.id, False, 500, "HTTP 500", delays))
    assert states == ["pending", "pending", "failed"]
    assert deliveries.claim_due(lease_s=60, limit=5) == [] and deliveries.next_due() is None
    deliveries.add("job_2", "", "image.job.failed", "http://x/", b"{}", "msg_2")
    (row,) = deliveries.claim_due(lease_s=60, limit=5)
    assert deliveries.settle(row.id, True, 204, None, delays) == "delivered"


def test_delivery_waits_for_its_delay(db: Database) -> None:
    deliveries = DeliveryStore(db)
    deliveries.add("job_1", "", "image.job.succeeded", "http://x/", b"{}", "msg_1")
    (row,) = deliveries.claim_due(lease_s=60, limit=5)
    assert deliveries.settle(row.id, False, None, "refused", (5.0,)) == "pending"
    assert deliveries.claim_due(lease_s=60, limit=5) == []  # due in 5 s, not now
    due = deliveries.next_due()
    assert due is not None and 3 < (due - utcnow()).total_seconds() <= 5


def test_batch_store_claims_leases_cancels(db: Database) -> None:
    from imagegate.jobs.batches.store import BatchStore

    store = BatchStore(db)
    a = store.create("k", "/v1/images/generations", "file-1", "24h", {"x": "y"}, 3, 100, [])
    failed = store.create("k", "/v1/images/generations", "file-2", "24h", None, 1, 0, [{"line": 1}])
    assert a.status == "validating" and failed.status == "failed"
    got = store.claim("r1", lease_s=60)
    assert got is not None and got.id == a.id and got.status == "in_progress" and got.runs == 1
    assert store.claim("r2", lease_s=60) is None  # one runner per batch
    assert store.renew(a.id, "r1", 60, completed=1, failed=0, cost_micros=5) == "in_progress"
    assert store.renew(a.id, "r2", 60, completed=1, failed=0, cost_micros=5) is None
    assert store.cancel(a.id, "other-key") is None
    assert store.cancel(a.id, "k").status == "cancelling"  # type: ignore[union-attr]
    assert store.renew(a.id, "r1", 60, completed=2, failed=0, cost_micros=9) == "cancelling"
    store.finish(
        a.id, "r1", cancelled=True, output_file_id="file-o", error_file_id=None, completed=2, failed=0, cost_micros=9
    )
    row = store.get(a.id)
    assert row is not None and row.status == "cancelled" and row.completed == 2 and row.output_file_id == "file-o"
    # a dead runner's batch is taken over once its lease has run out
    b = store.create("k", "/v1/images/generations", "file-3", "24h", None, 1, 0, [])
    assert store.claim("dead", lease_s=-1) is not None
    taken = store.claim("r3", lease_s=60)
    assert taken is not None and taken.id == b.id and taken.runs == 2
    assert [r.id for r in store.list("k", 10, None)][:1] == [b.id]
