"""Jobs in the database: the queue is the ``jobs`` table itself.

A runner claims a queued job with one conditional ``UPDATE`` (atomic on SQLite and PostgreSQL alike, so two
runners never get the same job) and holds it by a lease it renews while it works. A job whose lease ran out (its
process died) is queued again, or failed once it has been started ``max_runs`` times. Every method is blocking.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, update

from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import JobRow, WebhookDeliveryRow

ACTIVE = ("queued", "running")
INTERRUPTED = "JOB_INTERRUPTED"


def new_job_id() -> str:
    return "job_" + secrets.token_hex(12)


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self, owner: str, operation: str, model: str, request: bytes, replay: str | None, webhook_url: str | None
    ) -> JobRow:
        row = JobRow(
            id=new_job_id(),
            owner=owner,
            status="queued",
            operation=operation,
            model=model,
            request=request,
            replay=replay,
            webhook_url=webhook_url,
            created_at=utcnow(),
            runs=0,
            cost_micros=0,
        )
        with self.db.session.begin() as s:
            s.add(row)
        return row

    def get(self, job_id: str, owner: str | None = None) -> JobRow | None:
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None or (owner is not None and row.owner != owner):
                return None
            return row

    def get_with_deliveries(
        self, job_id: str, owner: str | None = None
    ) -> tuple[JobRow, list[WebhookDeliveryRow]] | None:
        """``get`` and its webhook deliveries in one session (a job without a ``webhook_url`` has none: no query)."""
        with self.db.session() as s:
            row = s.get(JobRow, job_id)
            if row is None or (owner is not None and row.owner != owner):
                return None
            if not row.webhook_url:
                return row, []
            stmt = select(WebhookDeliveryRow).where(WebhookDeliveryRow.job_id == job_id)
            return row, list(s.scalars(stmt.order_by(WebhookDeliveryRow.created_at)))

    def claim(self, runner: str, lease_s: float, limit: int) -> list[JobRow]:
        """Up to ``limit`` queued jobs, oldest first, now running under ``runner``."""
        if limit <= 0:
            return []
        with self.db.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(JobRow.id).where(JobRow.status == "queued").order_by(JobRow.created_at).limit(limit * 2)
                )
            ]
        claimed: list[JobRow] = []
        for job_id in ids:
            now = utcnow()
            with self.db.engine.begin() as conn:
                done = conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.status == "queued")
                    .values(
                        status="running",
                        runner=runner,
                        lease_until=now + timedelta(seconds=lease_s),
                        started_at=now,
                        runs=JobRow.runs + 1,
                    )
                ).rowcount
            if done:
                row = self.get(job_id)
                if row is not None:
                    claimed.append(row)
            if len(claimed) >= limit:
                break
        return claimed

    def renew(self, job_id: str, runner: str, lease_s: float) -> bool:
        """Extend the lease; ``False`` when the job is no longer this runner's (cancelled, or taken over)."""
        with self.db.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.runner == runner, JobRow.status == "running")
                    .values(lease_until=utcnow() + timedelta(seconds=lease_s))
                ).rowcount
            )

    def finish(
        self,
        job_id: str,
        runner: str,
        status: str,
        *,
        result: dict[str, Any] | None = None,
        error: dict[str, Any] | None = None,
        cost_micros: int = 0,
    ) -> bool:
        """Record the outcome, unless the job stopped being this runner's meanwhile (then ``False``)."""
        with self.db.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id, JobRow.runner == runner, JobRow.status == "running")
                    .values(
                        status=status,
                        finished_at=utcnow(),
                        lease_until=None,
                        result=orjson.dumps(result) if result is not None else None,
                        error=orjson.dumps(error).decode() if error is not None else None,
                        cost_micros=cost_micros,
                    )
                ).rowcount
            )

    def cancel(self, job_id: str, owner: str) -> JobRow | None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.owner == owner, JobRow.status.in_(ACTIVE))
                .values(status="cancelled", finished_at=utcnow(), lease_until=None)
            )
        return self.get(job_id, owner)

    def recover(self, max_runs: int, now: datetime | None = None) -> tuple[int, list[str]]:
        """Jobs whose runner's lease ran out: queued again (how many), or failed after ``max_runs`` starts (ids)."""
        now = now or utcnow()
        stale = (JobRow.status == "running") & (JobRow.lease_until < now)
        with self.db.engine.begin() as conn:
            failed = [r[0] for r in conn.execute(select(JobRow.id).where(stale, JobRow.runs >= max_runs))]
            if failed:
                error = {
                    "code": INTERRUPTED,
                    "message": f"The gateway stopped while running this job, {max_runs} time(s); it was not retried.",
                    "status": 500,
                }
                conn.execute(
                    update(JobRow)
                    .where(JobRow.id.in_(failed), JobRow.status == "running")
                    .values(status="failed", finished_at=now, lease_until=None, error=orjson.dumps(error).decode())
                )
            requeued = conn.execute(
                update(JobRow)
                .where(stale, JobRow.runs < max_runs)
                .values(status="queued", runner=None, lease_until=None)
            ).rowcount
        return requeued, failed

    def release(self, runner: str) -> int:
        """A runner shutting down hands its running jobs back to the queue (they run again, elsewhere or later)."""
        with self.db.engine.begin() as conn:
            return conn.execute(
                update(JobRow)
                .where(JobRow.runner == runner, JobRow.status == "running")
                .values(status="queued", runner=None, lease_until=None)
            ).rowcount

    def count(self, status: str) -> int:
        with self.db.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(JobRow).where(JobRow.status == status)).scalar_one()
            )
