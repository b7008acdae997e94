"""The job runner: claims queued jobs and due webhook deliveries from the database and works them.

It runs inside the gateway (``jobs_in_process``, the default) or as ``imagegate worker`` processes; any number of
runners can share one database. New work in the same process wakes it at once (``poke``), and such a wake looks
only at what it was for: a submitted or finished job claims jobs, a new batch looks for batches, a queued webhook for
deliveries. Everything else (stale leases, other processes' batches and deliveries) is looked at every
``jobs_poll_s``: a job costs its own few transactions, not a round of every queue's.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING

import orjson

from imagegate.core.errors import GatewayError
from imagegate.jobs import codec
from imagegate.jobs.deliveries import new_message_id, send
from imagegate.jobs.execute import plain_body
from imagegate.jobs.replay import ReplayOptions
from imagegate.jobs.views import job_json
from imagegate.store.db import utcnow
from imagegate.store.job_models import JobRow, WebhookDeliveryRow

if TYPE_CHECKING:
    from imagegate.jobs.service import AsyncWork

log = logging.getLogger("imagegate.jobs")


class JobRunner:
    def __init__(self, work: AsyncWork) -> None:
        self.work = work
        self.config = work.config
        self.id = "run_" + secrets.token_hex(8)
        self._wake = asyncio.Event()
        self._look: set[str] = set()  # what the next wake is for, beside jobs: "batches", "deliveries"
        self._delivery_due: datetime | None = None  # the next webhook retry, as last read
        self._running: dict[str, asyncio.Task[None]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._batch: asyncio.Task[bool] | None = None
        self._loop: asyncio.Task[None] | None = None

    def poke(self, *what: str) -> None:
        """Wake the runner for new or freed job capacity, and for ``what`` ("batches", "deliveries")."""
        self._look.update(what)
        self._wake.set()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._main(), name="imagegate-job-runner")

    async def aclose(self) -> None:
        """Stop, and hand the jobs still running back to the queue (a killed process's jobs come back when their
        lease runs out instead)."""
        if self._loop is None:
            return
        tasks = [t for t in (self._loop, self._batch, *self._running.values(), *self._sending) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        released = await asyncio.to_thread(self.work.jobs.release, self.id)
        if released:
            log.info("handed %d running job(s) back to the queue", released)
        if await asyncio.to_thread(self.work.batches.store.release, self.id):
            log.info("handed a running batch back to the queue")

    async def _main(self) -> None:
        next_full = 0.0
        while True:
            self._wake.clear()  # before the look: work that arrives during it wakes the next one at once
            look, self._look = self._look, set()
            if time.monotonic() >= next_full:  # the periodic look at everything
                look |= {"recover", "batches", "deliveries"}
                next_full = time.monotonic() + self.config.poll_s
            try:
                await self._tick(look)
            except Exception as exc:  # keep running; report without secrets
                log.warning("job runner tick failed: %s", type(exc).__name__)
            wait = max(0.0, next_full - time.monotonic())
            if self._delivery_due is not None:
                wait = min(wait, max(0.0, (self._delivery_due - utcnow()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _tick(self, look: set[str]) -> None:
        """Start the queued jobs there is room for, and what ``look`` names: stale work to recover, a batch, due
        webhook deliveries."""
        cfg, store = self.config, self.work.jobs
        if "recover" in look:
            requeued, failed = await asyncio.to_thread(store.recover, cfg.max_runs)
            if requeued:
                log.info("re-queued %d job(s) whose runner stopped", requeued)
            for job_id in failed:
                await self._announce(job_id)
        free = cfg.concurrency - len(self._running)
        for row in await asyncio.to_thread(store.claim, self.id, cfg.lease_s, free) if free > 0 else ():
            task = asyncio.create_task(self._run(row), name=f"imagegate-job-{row.id}")
            self._running[row.id] = task
            task.add_done_callback(functools.partial(self._forget, row.id))
        if "batches" in look and (self._batch is None or self._batch.done()):  # one batch at a time per runner
            if self._batch is not None and not self._batch.cancelled() and self._batch.exception() is not None:
                log.warning("batch run failed: %s", type(self._batch.exception()).__name__)
            self._batch = asyncio.create_task(self.work.batches.run_next(self.id), name="imagegate-batch")
            self._batch.add_done_callback(self._batch_done)
        if "deliveries" in look:
            for delivery in await asyncio.to_thread(self.work.deliveries.claim_due, cfg.webhook_timeout_s + 30, 16):
                sending = asyncio.create_task(self._deliver(delivery))
                self._sending.add(sending)
                sending.add_done_callback(self._sending.discard)
            self._delivery_due = await asyncio.to_thread(self.work.deliveries.next_due)

    # ------------------------------------------------------------------ jobs

    def _batch_done(self, task: asyncio.Task[bool]) -> None:
        """A batch that ran may have left another waiting: look again now (not after an idle claim, or it spins)."""
        if not task.cancelled() and task.exception() is None and task.result():
            self.poke("batches")

    def _forget(self, job_id: str, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)

    async def _run(self, row: JobRow) -> None:
        store, cfg = self.work.jobs, self.config
        work = asyncio.create_task(self._execute(row))
        try:
            while not work.done():
                done, _ = await asyncio.wait({work}, timeout=cfg.lease_s / 3)
                if not done and not await asyncio.to_thread(store.renew, row.id, self.id, cfg.lease_s):
                    work.cancel()  # cancelled by the client (or taken over): stop paying for it
                    with contextlib.suppress(asyncio.CancelledError):
                        await work
                    return
            status, result, error, cost = work.result()
        except asyncio.CancelledError:
            work.cancel()
            raise
        finished = await asyncio.to_thread(
            store.finish, row.id, self.id, status, result=result, error=error, cost_micros=cost
        )
        if finished and row.webhook_url:
            await self._announce(row.id)
        self.poke()  # room for the next job

    async def _execute(self, row: JobRow) -> tuple[str, dict | None, dict | None, int]:
        request = codec.load_request(row.request)
        try:
            outcome = await self.work.executor.run(request, ReplayOptions.decode(row.replay))
        except GatewayError as exc:
            return "failed", None, {"status": exc.status, **exc.body()["error"]}, 0
        except Exception as exc:  # noqa: BLE001 - a job records why it failed instead of vanishing
            log.error("job %s failed: %s", row.id, type(exc).__name__)
            return "failed", None, {"status": 500, "code": "INTERNAL_ERROR", "message": "internal error"}, 0
        return "succeeded", plain_body(outcome.body), None, outcome.cost_micros

    async def _announce(self, job_id: str) -> None:
        """Queue the job's webhook event (if it has a URL) once it has ended."""
        row = await asyncio.to_thread(self.work.jobs.get, job_id)
        if row is None or not row.webhook_url or row.status not in ("succeeded", "failed"):
            return
        event = f"image.job.{row.status}"
        msg_id = new_message_id()
        payload = orjson.dumps({"type": event, "timestamp": utcnow().isoformat(), "data": job_json(row)})
        await asyncio.to_thread(self.work.deliveries.add, row.id, row.owner, event, row.webhook_url, payload, msg_id)
        self.poke("deliveries")

    # ------------------------------------------------------------------ webhooks

    async def _deliver(self, row: WebhookDeliveryRow) -> None:
        cfg = self.config
        secret_row = await asyncio.to_thread(self.work.secrets.get, row.owner)
        ok: bool
        status: int | None
        error: str | None
        if secret_row is None:
            ok, status, error = False, None, "the key has no webhook secret"
        else:
            started = time.monotonic()
            ok, status, error = await send(
                row, secret_row.secret, allow_private=cfg.allow_private, timeout_s=cfg.webhook_timeout_s
            )
            log.info(
                "webhook %s try %d: %s in %.0f ms",
                row.id,
                row.attempts + 1,
                status or error,
                (time.monotonic() - started) * 1000,
            )
        await asyncio.to_thread(self.work.deliveries.settle, row.id, ok, status, error, cfg.retry_delays_s)
        self.poke("deliveries")
