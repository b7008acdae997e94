"""Batches in the database, claimed and leased by runners like jobs (``jobs/store.py``). Blocking methods."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import select, update

from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import BatchRow

QUEUED = "validating"  # validated, waiting for a runner (OpenAI's first state)
ENDED = ("completed", "failed", "cancelled", "expired")


def new_batch_id() -> str:
    return "batch_" + secrets.token_hex(12)


class BatchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(
        self,
        owner: str,
        endpoint: str,
        input_file_id: str,
        window: str,
        metadata: dict[str, Any] | None,
        total: int,
        estimate_micros: int,
        errors: list[dict[str, Any]],
        mode: str = "emulated",
    ) -> BatchRow:
        now = utcnow()
        row = BatchRow(
            id=new_batch_id(),
            owner=owner,
            status="failed" if errors else QUEUED,
            endpoint=endpoint,
            input_file_id=input_file_id,
            completion_window=window,
            meta=orjson.dumps(metadata).decode() if metadata is not None else None,
            errors=orjson.dumps(errors).decode() if errors else None,
            created_at=now,
            failed_at=now if errors else None,
            expires_at=now + timedelta(hours=24),
            total=total,
            completed=0,
            failed=0,
            estimate_micros=estimate_micros,
            cost_micros=0,
            runs=0,
            mode=mode,
        )
        with self.db.session.begin() as s:
            s.add(row)
        return row

    def get(self, batch_id: str, owner: str | None = None) -> BatchRow | None:
        with self.db.session() as s:
            row = s.get(BatchRow, batch_id)
            return row if row is not None and (owner is None or row.owner == owner) else None

    def list(self, owner: str, limit: int, after: str | None) -> list[BatchRow]:
        stmt = select(BatchRow).where(BatchRow.owner == owner)
        if after:
            anchor = self.get(after, owner)
            if anchor is not None:
                stmt = stmt.where(BatchRow.created_at <= anchor.created_at, BatchRow.id != anchor.id)
        with self.db.session() as s:
            return list(s.scalars(stmt.order_by(BatchRow.created_at.desc(), BatchRow.id.desc()).limit(limit)))

    def claim(self, runner: str, lease_s: float) -> BatchRow | None:
        now = utcnow()
        expired = BatchRow.lease_until < now
        with self.db.engine.begin() as conn:  # a dead runner's batch is taken over (it resumes from its files)
            conn.execute(
                update(BatchRow)
                .where(BatchRow.status == "in_progress", expired)
                .values(runner=None, lease_until=None, status=QUEUED)
            )
            conn.execute(
                update(BatchRow)
                .where(BatchRow.status == "cancelling", expired)
                .values(lease_until=None, status="cancelled", cancelled_at=now)
            )
        with self.db.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(BatchRow.id).where(BatchRow.status == QUEUED).order_by(BatchRow.created_at).limit(4)
                )
            ]
        for batch_id in ids:
            with self.db.engine.begin() as conn:
                done = conn.execute(
                    update(BatchRow)
                    .where(BatchRow.id == batch_id, BatchRow.status == QUEUED)
                    .values(
                        status="in_progress",
                        runner=runner,
                        runs=BatchRow.runs + 1,
                        lease_until=now + timedelta(seconds=lease_s),
                        in_progress_at=now,
                    )
                ).rowcount
            if done:
                return self.get(batch_id)
        return None

    def renew(
        self, batch_id: str, runner: str, lease_s: float, completed: int, failed: int, cost_micros: int
    ) -> str | None:
        """Extend the lease and save progress; the batch's status (``cancelling`` asks the runner to stop), or
        ``None`` when it is no longer this runner's."""
        with self.db.engine.begin() as conn:
            done = conn.execute(
                update(BatchRow)
                .where(
                    BatchRow.id == batch_id,
                    BatchRow.runner == runner,
                    BatchRow.status.in_(("in_progress", "cancelling")),
                )
                .values(
                    lease_until=utcnow() + timedelta(seconds=lease_s),
                    completed=completed,
                    failed=failed,
                    cost_micros=cost_micros,
                )
            ).rowcount
        if not done:
            return None
        row = self.get(batch_id)
        return row.status if row is not None else None

    def finish(
        self,
        batch_id: str,
        runner: str,
        *,
        cancelled: bool,
        output_file_id: str | None,
        error_file_id: str | None,
        completed: int,
        failed: int,
        cost_micros: int,
    ) -> None:
        now = utcnow()
        values: dict[str, Any] = dict(
            output_file_id=output_file_id,
            error_file_id=error_file_id,
            completed=completed,
            failed=failed,
            cost_micros=cost_micros,
            lease_until=None,
            finalizing_at=now,
        )
        if cancelled:
            values.update(status="cancelled", cancelled_at=now)
        else:
            values.update(status="completed", completed_at=now)
        with self.db.engine.begin() as conn:
            conn.execute(update(BatchRow).where(BatchRow.id == batch_id, BatchRow.runner == runner).values(**values))

    def set_provider_batch(self, batch_id: str, runner: str, name: str) -> None:
        """Remember the provider's batch before anything else happens: a restart polls it, never resubmits."""
        with self.db.engine.begin() as conn:
            conn.execute(
                update(BatchRow).where(BatchRow.id == batch_id, BatchRow.runner == runner).values(provider_batch=name)
            )

    def fail(self, batch_id: str, runner: str, error: dict[str, Any]) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id, BatchRow.runner == runner)
                .values(status="failed", failed_at=utcnow(), lease_until=None, errors=orjson.dumps([error]).decode())
            )

    def release(self, runner: str) -> int:
        """A runner shutting down hands its batch back (the next runner resumes it from its files)."""
        with self.db.engine.begin() as conn:
            return conn.execute(
                update(BatchRow)
                .where(BatchRow.runner == runner, BatchRow.status == "in_progress")
                .values(status=QUEUED, runner=None, lease_until=None)
            ).rowcount

    def cancel(self, batch_id: str, owner: str) -> BatchRow | None:
        now = utcnow()
        with self.db.engine.begin() as conn:
            conn.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id, BatchRow.owner == owner, BatchRow.status == QUEUED)
                .values(status="cancelled", cancelling_at=now, cancelled_at=now)
            )
            conn.execute(
                update(BatchRow)
                .where(BatchRow.id == batch_id, BatchRow.owner == owner, BatchRow.status == "in_progress")
                .values(status="cancelling", cancelling_at=now)
            )
        return self.get(batch_id, owner)
