"""The request log: every request and every upstream attempt, written off the request's critical path.

``RequestRecorder.record`` only appends to an in-memory queue. A background task writes the queue in batches (every
``flush_interval_s`` or as soon as ``batch_size`` records wait), one transaction per batch, in a worker thread.
When the database fails the batch goes back to the front of the queue and is retried with backoff; the queue is
bounded (``max_queued``): past it the oldest records are dropped, counted in ``dropped`` and logged.
A batch the database rejects for its *data* (an integrity or data error) is retried row by row, so one bad record
cannot block the log; the rows that still fail are dropped and counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError

from imagegate.core.errors import redact
from imagegate.core.types import Attempt
from imagegate.store.db import Database
from imagegate.store.stats import provider_stats

__all__ = ["RequestRecord", "RequestRecorder", "provider_stats", "to_rows"]

log = logging.getLogger("imagegate.recorder")


@dataclass(slots=True)
class RequestRecord:
    """One finished request, as the pipeline reports it (``created_at``: a UTC datetime or unix seconds)."""

    id: str
    created_at: datetime | float
    model: str
    operation: str
    status: int
    latency_ms: float
    model_id: str | None = None  # resolved catalog id
    key_id: str | None = None
    provider: str | None = None
    provider_model_id: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    ttfb_ms: float | None = None
    cost_micros: int = 0
    image_count: int = 0
    image_bytes: int = 0
    prompt: str | None = None
    dry_run: bool = False
    user: str | None = None
    attempts: list[Attempt] = field(default_factory=list)


def _as_datetime(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def to_rows(rec: RequestRecord) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``requests`` row and the ``attempts`` rows of one record."""
    created = _as_datetime(rec.created_at)
    request_id = rec.id or f"req_{uuid.uuid4().hex}"
    row = {
        "id": request_id,
        "created_at": created,
        "key_id": rec.key_id,
        "model": rec.model,
        "model_id": rec.model_id,
        "operation": rec.operation,
        "provider": rec.provider,
        "provider_model_id": rec.provider_model_id,
        "status": rec.status,
        "error_class": rec.error_class,
        "error_message": redact(rec.error_message) if rec.error_message else None,
        "latency_ms": float(rec.latency_ms),
        "ttfb_ms": rec.ttfb_ms,
        "cost_micros": int(rec.cost_micros),
        "image_count": rec.image_count,
        "image_bytes": rec.image_bytes,
        "attempts_count": len(rec.attempts),
        "prompt": rec.prompt,
        "dry_run": rec.dry_run,
        "user": rec.user,
    }
    attempts = [
        {
            "request_id": request_id,
            "created_at": _as_datetime(a.started_at) if a.started_at else created,
            "model": rec.model_id,
            "provider": a.provider,
            "provider_model_id": a.provider_model_id,
            "outcome": a.outcome,
            "status": a.status,
            "error": redact(a.error) if a.error else None,
            "latency_ms": float(a.latency_ms),
            "ttfb_ms": a.ttfb_ms,
            "cost_micros": int(a.cost_micros),
            "hedged": a.hedged,
            "image_count": a.images,
            "image_bytes": a.bytes,
        }
        for a in rec.attempts
    ]
    return row, attempts


def _describe(exc: BaseException) -> str:
    """Class names only: SQLAlchemy messages carry the statement's parameters (prompts, user ids)."""
    orig = getattr(exc, "orig", None)
    return f"{type(exc).__name__}({type(orig).__name__})" if orig is not None else type(exc).__name__


class _PartialWrite(Exception):
    """A row-by-row write stopped by a database failure after ``consumed`` records (``written`` of them stored)."""

    def __init__(self, written: int, consumed: int, cause: Exception) -> None:
        super().__init__(type(cause).__name__)
        self.written = written
        self.consumed = consumed
        self.cause = cause


class RequestRecorder:
    """Batched, non-blocking writer of the request log. ``record`` must be called from the event loop's thread."""

    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.2,
        max_queued: int = 100_000,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.db = db
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.max_queued = max_queued
        self.max_backoff_s = max_backoff_s
        self.dropped = 0  # records lost to the memory bound or rejected by the database
        self.written = 0
        self.batches = 0  # transactions that committed
        self.failures = 0  # failed write attempts
        self._queue: deque[RequestRecord] = deque()
        self._lock = asyncio.Lock()  # one batch in flight at a time
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def queued(self) -> int:
        return len(self._queue)

    def record(self, rec: RequestRecord) -> None:
        """Queue one record. Never blocks and never raises for database trouble."""
        self._queue.append(rec)
        self._enforce_bound()
        if len(self._queue) >= self.batch_size:
            self._wake.set()

    def _enforce_bound(self) -> None:
        over = len(self._queue) - self.max_queued
        if over <= 0:
            return
        for _ in range(over):
            self._queue.popleft()
        if self.dropped == 0 or (self.dropped + over) // 1000 > self.dropped // 1000:
            log.error("request log queue over %d records: dropped %d oldest so far", self.max_queued,
                      self.dropped + over)
        self.dropped += over

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.create_task(self._run(), name="imagegate-request-recorder")

    async def _run(self) -> None:
        backoff = self.flush_interval_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            self._wake.clear()
            if self._closing:
                return
            try:
                await self.flush()
                backoff = self.flush_interval_s
            except Exception:  # logged in _write_batch; keep the loop alive, retry later
                backoff = min(max(backoff * 2, self.flush_interval_s), self.max_backoff_s)

    async def flush(self) -> int:
        """Write everything queued now, in batches. Returns the records written; raises if the database fails
        (the unwritten records stay queued)."""
        written = 0
        async with self._lock:
            target = len(self._queue)
            while written < target and self._queue:
                n = min(self.batch_size, len(self._queue))
                batch = [self._queue.popleft() for _ in range(n)]
                try:
                    written += await self._write_batch(batch)
                except _PartialWrite as partial:
                    written += partial.written
                    self._requeue(batch[partial.consumed:])
                    raise partial.cause from None
                except BaseException:
                    self._requeue(batch)
                    raise
        return written

    def _requeue(self, batch: list[RequestRecord]) -> None:
        self._queue.extendleft(reversed(batch))  # back in front, in their order
        self._enforce_bound()

    async def _write_batch(self, batch: list[RequestRecord]) -> int:
        try:
            await asyncio.to_thread(self._write_all, batch)
        except (IntegrityError, DataError) as exc:
            log.warning("request log batch of %d rejected (%s): writing it row by row", len(batch), _describe(exc))
            written, dropped, error = await asyncio.to_thread(self._write_one_by_one, batch)
            self.written += written
            self.batches += written
            self.dropped += dropped
            if error is not None:
                self.failures += 1
                log.error("request log write failed (%s); will retry", _describe(error))
                raise _PartialWrite(written, written + dropped, error) from None
            return written
        except Exception as exc:
            self.failures += 1
            log.error("request log write of %d record(s) failed (%s); will retry", len(batch), _describe(exc))
            raise
        self.batches += 1
        self.written += len(batch)
        return len(batch)

    def _write_all(self, batch: list[RequestRecord]) -> None:
        """Runs in a thread (row building included: it is CPU work the event loop need not do)."""
        rows = [to_rows(r) for r in batch]
        self.db.write_log([r for r, _ in rows], [a for _, atts in rows for a in atts])

    def _write_one_by_one(self, batch: list[RequestRecord]) -> tuple[int, int, Exception | None]:
        """Runs in a thread: ``(written, dropped, error)``. A record the database rejects again for its data is
        dropped (a duplicate id after an ambiguous commit lands here too); any other error stops the walk."""
        written = dropped = 0
        for rec in batch:
            request, attempts = to_rows(rec)
            try:
                self.db.write_log([request], attempts)
            except (IntegrityError, DataError) as exc:
                dropped += 1
                log.error("request log dropped one record (%s)", _describe(exc))
                continue
            except Exception as exc:
                return written, dropped, exc
            written += 1
        return written, dropped, None

    async def aclose(self, timeout_s: float = 30.0) -> None:
        """Stop the background task and write everything still queued. Retries for up to ``timeout_s`` when the
        database fails; whatever cannot be written by then is counted in ``dropped`` and logged."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        deadline = time.monotonic() + timeout_s
        delay = self.flush_interval_s
        while self._queue:
            try:
                await self.flush()
            except Exception:
                if time.monotonic() + delay > deadline:
                    lost = len(self._queue)
                    self._queue.clear()
                    self.dropped += lost
                    log.error("request log: %d record(s) could not be written before shutdown", lost)
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
