"""A GPU worker: one bounded queue in front of one loaded pipeline, batching equal requests.

Requests whose parameters match (same ``key``: operation, size, steps, guidance) are rendered together, up to
``max_batch`` images per pipeline call. The pipeline runs in the worker's own thread, off the event loop, one batch
at a time (a device runs one batch well; two would only thrash its memory). A full queue raises ``Unavailable`` so
the router fails over to a hosted offer, and ``expected_wait_s`` tells the router how long a new request would wait,
which it prices into the offer's score like a provider's Retry-After.

Cancellation: a request cancelled while queued leaves the queue; one cancelled while its batch runs sets its event,
and the pipeline stops between steps once every request of the batch is cancelled (``runner.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from imagegate.core.errors import Unavailable

log = logging.getLogger("imagegate.local")


@dataclass(eq=False)
class LocalJob:
    """One request's share of a batch."""

    key: Hashable  # requests with equal keys may share a pipeline call
    prompt: str
    n: int
    seed: int | None = None
    image: Any = None  # PIL image for img2img / inpainting
    mask: Any = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    future: asyncio.Future[BatchOutput] | None = None


@dataclass
class BatchOutput:
    """What one job gets back: its images and its share of the batch's device time."""

    images: list[Any]
    gpu_seconds: float
    batch_images: int  # images rendered by the whole pipeline call


RunBatch = Callable[[list[LocalJob]], list[list[Any]]]


class Cancelled(Exception):
    """Every request of a batch was cancelled; the pipeline stopped between steps."""


class GpuWorker:
    def __init__(
        self,
        name: str,
        run_batch: RunBatch,
        *,
        max_batch: int,
        max_queue: int,
        expected_s_per_image: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.run_batch = run_batch
        self.max_batch = max_batch
        self.max_queue = max_queue
        self._clock = clock
        self._queue: deque[LocalJob] = deque()
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"imagegate-local-{name}")
        self._task: asyncio.Task[None] | None = None
        self._running: list[LocalJob] = []
        self._batch_s = expected_s_per_image * max_batch  # moving average of one full batch's duration
        self._image_s = expected_s_per_image
        self.batches = 0  # pipeline calls made (tests and metrics read it)
        self.images = 0
        self.largest_batch = 0

    # ------------------------------------------------------------------ state the router reads

    def queued_images(self) -> int:
        return sum(j.n for j in self._queue)

    def expected_wait_s(self) -> float:
        """How long a request submitted now would wait before its batch starts."""
        ahead = self.queued_images()
        wait = math.ceil(ahead / self.max_batch) * self._batch_s if ahead else 0.0
        if self._running:
            wait += self._batch_s / 2  # the batch on the device is half done, on average
        return wait

    # ------------------------------------------------------------------ submitting

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"imagegate-local-{self.name}")

    async def submit(self, job: LocalJob) -> BatchOutput:
        self.start()
        if job.n > self.max_batch:
            raise Unavailable(f"local {self.name}: {job.n} images exceed max_batch {self.max_batch}", provider="local")
        if self.queued_images() + job.n > self.max_queue:
            raise Unavailable(f"local {self.name}: queue full ({self.max_queue} images waiting)", provider="local")
        job.future = asyncio.get_running_loop().create_future()
        self._queue.append(job)
        self._wake.set()
        try:
            return await asyncio.shield(job.future)
        except asyncio.CancelledError:
            job.cancelled.set()
            with contextlib.suppress(ValueError):
                self._queue.remove(job)
            raise

    # ------------------------------------------------------------------ the loop

    def _take_batch(self) -> list[LocalJob]:
        while self._queue and self._queue[0].cancelled.is_set():
            self._queue.popleft()
        if not self._queue:
            return []
        first = self._queue.popleft()
        batch, images = [first], first.n
        for job in list(self._queue):
            if images >= self.max_batch:
                break
            if job.key == first.key and not job.cancelled.is_set() and images + job.n <= self.max_batch:
                self._queue.remove(job)
                batch.append(job)
                images += job.n
        return batch

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while batch := self._take_batch():
                self._running = batch
                started = self._clock()
                try:
                    outputs = await loop.run_in_executor(self._executor, self.run_batch, batch)
                except Exception as exc:  # one failed batch fails its jobs, not the worker
                    for job in batch:
                        if job.future is None or job.future.done():
                            continue
                        if job.cancelled.is_set():
                            job.future.cancel()  # nobody waits for it any more
                        else:
                            job.future.set_exception(exc)
                    continue
                finally:
                    self._running = []
                elapsed = self._clock() - started
                total = sum(j.n for j in batch)
                self._observe(elapsed, total)
                for job, images in zip(batch, outputs, strict=True):
                    if job.future is not None and not job.future.done():
                        job.future.set_result(BatchOutput(images, elapsed * job.n / total, total))

    def _observe(self, elapsed: float, images: int) -> None:
        self.batches += 1
        self.images += images
        self.largest_batch = max(self.largest_batch, images)
        per_image = elapsed / images
        self._image_s = 0.7 * self._image_s + 0.3 * per_image
        # A full batch takes at most max_batch times one image; batching makes it less, so scale what was seen.
        full = elapsed * self.max_batch / images
        self._batch_s = 0.7 * self._batch_s + 0.3 * full

    async def aclose(self) -> None:
        for job in [*self._queue, *self._running]:
            job.cancelled.set()
            if job.future is not None and not job.future.done():
                job.future.set_exception(Unavailable(f"local {self.name}: shutting down", provider="local"))
        self._queue.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._executor.shutdown(wait=False, cancel_futures=True)
