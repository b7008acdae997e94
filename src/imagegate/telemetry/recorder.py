"""The request log: every request and every upstream attempt, written off the request's critical path.

``RequestRecorder.record`` only appends to an in-memory queue. A background task writes the queue in batches (every
``flush_interval_s`` or as soon as ``batch_size`` records wait), one transaction per batch, in the recorder's own
thread, which also builds the rows (plain tuples, ``build_rows``) and inserts them through the driver's bulk path
(``store/request_log.py``), so the event loop pays a deque append per request and the writer holds the GIL little.
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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import DataError, IntegrityError

from imagegate.core.errors import redact
from imagegate.core.types import Attempt
from imagegate.store.db import Database
from imagegate.store.request_log import ATTEMPT_COLUMNS, REQUEST_COLUMNS, Row, aware_utc
from imagegate.store.stats import provider_stats

__all__ = ["RequestRecord", "RequestRecorder", "build_rows", "provider_stats", "to_rows"]

T = TypeVar("T")
# A batch failing with these is rejected for its data (a constraint, a value the column refuses, a field that does
# not convert): it is retried row by row and the rows that fail again are dropped.
_REJECTED = (IntegrityError, DataError, TypeError, ValueError)

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


def build_rows(batch: Iterable[RequestRecord], stamp: Callable[[float | datetime], Any]) -> tuple[list[Row], list[Row]]:
    """The ``requests`` and ``attempts`` rows of ``batch``: tuples in ``REQUEST_COLUMNS`` / ``ATTEMPT_COLUMNS`` order,
    timestamps converted by ``stamp`` (``Database.log_time``). The hot loop of the log writer: plain tuples, one
    timestamp conversion per distinct time, no dicts."""
    requests: list[Row] = []
    attempts: list[Row] = []
    add_request, add_attempt = requests.append, attempts.append
    for rec in batch:
        created = stamp(rec.created_at)
        request_id = rec.id or f"req_{uuid.uuid4().hex}"  # never an empty primary key
        model_id, message, tried = rec.model_id, rec.error_message, rec.attempts
        prompt, user = rec.prompt, rec.user
        add_request(
            (
                request_id,
                created,
                rec.key_id,
                storable(rec.model, 200),
                model_id,
                rec.operation,
                rec.provider,
                rec.provider_model_id,
                rec.status,
                rec.error_class,
                storable(redact(message)) if message else None,
                float(rec.latency_ms),
                rec.ttfb_ms,
                int(rec.cost_micros),
                rec.image_count,
                rec.image_bytes,
                len(tried),
                storable(prompt) if prompt is not None else None,
                rec.dry_run,
                storable(user, 256) if user is not None else None,
            )
        )
        for a in tried:
            add_attempt(
                (
                    request_id,
                    stamp(a.started_at) if a.started_at else created,
                    model_id,
                    a.provider,
                    a.provider_model_id,
                    a.outcome,
                    a.status,
                    storable(redact(a.error)) if a.error else None,
                    float(a.latency_ms),
                    a.ttfb_ms,
                    int(a.cost_micros),
                    a.hedged,
                    a.images,
                    a.bytes,
                    a.possibly_billed,
                    a.limit_hit,
                )
            )
    return requests, attempts


def storable(text: str, limit: int | None = None) -> str:
    """``text`` as every database can hold it: without NUL (PostgreSQL refuses it in text) and within ``limit``
    characters (its column). The API refuses such client values already; this keeps any other path from losing
    the row."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text if limit is None or len(text) <= limit else text[:limit]


def to_rows(rec: RequestRecord) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The ``requests`` row and the ``attempts`` rows of one record as column -> value (timestamps as aware UTC
    datetimes): ``build_rows`` for reading."""
    [request], attempts = build_rows([rec], aware_utc)
    return (
        dict(zip(REQUEST_COLUMNS, request, strict=True)),
        [dict(zip(ATTEMPT_COLUMNS, a, strict=True)) for a in attempts],
    )


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
        batch_size: int = 2000,  # records per transaction; SQLite pays less per record in larger ones
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
        self._writer: ThreadPoolExecutor | None = None  # one thread, one pooled connection, nothing queued behind

    @property
    def queued(self) -> int:
        return len(self._queue)

    def record(self, rec: RequestRecord) -> None:
        """Queue one record. Never blocks and never raises for database trouble (row building waits for the
        writer thread)."""
        queue = self._queue
        queue.append(rec)
        queued = len(queue)
        if queued > self.max_queued:
            self._enforce_bound()
        if queued >= self.batch_size:
            self._wake.set()

    def _enforce_bound(self) -> None:
        over = len(self._queue) - self.max_queued
        if over <= 0:
            return
        for _ in range(over):
            self._queue.popleft()
        if self.dropped == 0 or (self.dropped + over) // 1000 > self.dropped // 1000:
            log.error(
                "request log queue over %d records: dropped %d oldest so far", self.max_queued, self.dropped + over
            )
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
                batch = self._take(self.batch_size)
                try:
                    written += await self._write_batch(batch)
                except _PartialWrite as partial:
                    written += partial.written
                    self._requeue(batch[partial.consumed :])
                    raise partial.cause from None
                except BaseException:
                    self._requeue(batch)
                    raise
        return written

    def _take(self, n: int) -> list[RequestRecord]:
        queue = self._queue
        if n >= len(queue):  # the usual case: everything queued fits one batch
            batch = list(queue)
            queue.clear()
            return batch
        return [queue.popleft() for _ in range(n)]

    def _requeue(self, batch: list[RequestRecord]) -> None:
        self._queue.extendleft(reversed(batch))  # back in front, in their order
        self._enforce_bound()

    async def _in_writer(self, fn: Callable[[list[RequestRecord]], T], batch: list[RequestRecord]) -> T:
        """Run ``fn(batch)`` in the recorder's own thread (started on first use, stopped by ``aclose``)."""
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="imagegate-request-log")
        return await asyncio.get_running_loop().run_in_executor(self._writer, fn, batch)

    async def _write_batch(self, batch: list[RequestRecord]) -> int:
        try:
            await self._in_writer(self._write_all, batch)
        except _REJECTED as exc:
            log.warning("request log batch of %d rejected (%s): writing it row by row", len(batch), _describe(exc))
            written, dropped, error = await self._in_writer(self._write_one_by_one, batch)
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
        """Runs in the writer thread (row building included: CPU work the event loop need not do)."""
        self.db.write_log(*build_rows(batch, self.db.log_time))

    def _write_one_by_one(self, batch: list[RequestRecord]) -> tuple[int, int, Exception | None]:
        """Runs in a thread: ``(written, dropped, error)``. A record the database rejects again for its data is
        dropped (a duplicate id after an ambiguous commit lands here too); any other error stops the walk."""
        written = dropped = 0
        for rec in batch:
            try:
                self.db.write_log(*build_rows([rec], self.db.log_time))
            except _REJECTED as exc:
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
        try:
            await self._drain(timeout_s)
        finally:
            if self._writer is not None:
                self._writer.shutdown(wait=False)  # idle by now: the thread exits on its own
                self._writer = None

    async def _drain(self, timeout_s: float) -> None:
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
