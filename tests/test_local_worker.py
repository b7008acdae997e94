"""The local provider's GPU worker: batching of equal requests, the bounded queue, cancellation, the expected wait.

The pipeline is replaced by a function that blocks on events, so every interleaving is set by the test (no
timing, no torch).
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from imagegate.core.errors import Unavailable
from imagegate.providers.local.worker import GpuWorker, LocalJob


class GatedPipeline:
    """Each call waits for ``release``; records the batches it was given."""

    def __init__(self) -> None:
        self.calls: list[list[LocalJob]] = []
        self.started = threading.Event()
        self.release = threading.Event()

    def __call__(self, jobs: list[LocalJob]) -> list[list[str]]:
        self.calls.append(list(jobs))
        self.started.set()
        self.release.wait(10)
        return [[f"{job.prompt}#{i}" for i in range(job.n)] for job in jobs]


def worker(pipe: GatedPipeline, *, max_batch: int = 4, max_queue: int = 8) -> GpuWorker:
    return GpuWorker("m", pipe, max_batch=max_batch, max_queue=max_queue, expected_s_per_image=1.0)


async def wait_started(pipe: GatedPipeline) -> None:
    await asyncio.to_thread(pipe.started.wait, 10)
    pipe.started.clear()


async def test_equal_requests_queued_behind_a_batch_run_together() -> None:
    pipe = GatedPipeline()
    w = worker(pipe)
    first = asyncio.create_task(w.submit(LocalJob(key="k", prompt="a", n=1)))
    await wait_started(pipe)  # the device is busy with "a"
    waiting = [asyncio.create_task(w.submit(LocalJob(key="k", prompt=p, n=1))) for p in ("b", "c", "d")]
    other = asyncio.create_task(w.submit(LocalJob(key="other", prompt="x", n=1)))
    await asyncio.sleep(0)
    assert w.queued_images() == 4
    pipe.release.set()
    outs = await asyncio.gather(first, *waiting, other)
    assert [[j.prompt for j in call] for call in pipe.calls] == [["a"], ["b", "c", "d"], ["x"]]
    assert outs[1].images == ["b#0"] and outs[1].batch_images == 3
    assert w.largest_batch == 3
    await w.aclose()


async def test_a_batch_never_exceeds_max_batch_images() -> None:
    pipe = GatedPipeline()
    w = worker(pipe, max_batch=3)
    first = asyncio.create_task(w.submit(LocalJob(key="k", prompt="a", n=1)))
    await wait_started(pipe)
    rest = [asyncio.create_task(w.submit(LocalJob(key="k", prompt=p, n=2))) for p in ("b", "c")]
    await asyncio.sleep(0)
    pipe.release.set()
    await asyncio.gather(first, *rest)
    assert [sum(j.n for j in call) for call in pipe.calls] == [1, 2, 2]
    await w.aclose()


async def test_a_full_queue_is_unavailable_so_the_router_fails_over() -> None:
    pipe = GatedPipeline()
    w = worker(pipe, max_batch=1, max_queue=2)
    running = asyncio.create_task(w.submit(LocalJob(key="k", prompt="a", n=1)))
    await wait_started(pipe)
    queued = [asyncio.create_task(w.submit(LocalJob(key="k", prompt=p, n=1))) for p in ("b", "c")]
    await asyncio.sleep(0)
    with pytest.raises(Unavailable, match="queue full"):
        await w.submit(LocalJob(key="k", prompt="d", n=1))
    pipe.release.set()
    await asyncio.gather(running, *queued)
    await w.aclose()


async def test_the_expected_wait_grows_with_the_queue() -> None:
    pipe = GatedPipeline()
    w = worker(pipe, max_batch=2, max_queue=10)
    assert w.expected_wait_s() == 0.0
    running = asyncio.create_task(w.submit(LocalJob(key="k", prompt="a", n=1)))
    await wait_started(pipe)
    busy = w.expected_wait_s()
    assert busy > 0
    queued = [asyncio.create_task(w.submit(LocalJob(key="k", prompt=str(i), n=1))) for i in range(4)]
    await asyncio.sleep(0)
    assert w.expected_wait_s() == pytest.approx(busy + 2 * 2.0)  # two full batches of 2 images at 1 s each
    pipe.release.set()
    await asyncio.gather(running, *queued)
    await w.aclose()


async def test_a_request_cancelled_in_the_queue_leaves_it_and_one_running_is_flagged() -> None:
    pipe = GatedPipeline()
    w = worker(pipe, max_batch=1)
    job_a = LocalJob(key="k", prompt="a", n=1)
    running = asyncio.create_task(w.submit(job_a))
    await wait_started(pipe)
    queued = asyncio.create_task(w.submit(LocalJob(key="k", prompt="b", n=1)))
    await asyncio.sleep(0)
    assert w.queued_images() == 1
    queued.cancel()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    with pytest.raises(asyncio.CancelledError):
        await running
    assert w.queued_images() == 0
    assert job_a.cancelled.is_set()  # the pipeline's step callback reads this and stops between steps
    pipe.release.set()
    last = await w.submit(LocalJob(key="k", prompt="c", n=1))
    assert last.images == ["c#0"]
    assert [[j.prompt for j in call] for call in pipe.calls] == [["a"], ["c"]]
    await w.aclose()


async def test_a_failed_batch_fails_its_requests_and_the_worker_goes_on() -> None:
    calls = []

    def flaky(jobs: list[LocalJob]) -> list[list[str]]:
        calls.append(jobs)
        if len(calls) == 1:
            raise RuntimeError("CUDA out of memory")
        return [["ok"] for _ in jobs]

    w = GpuWorker("m", flaky, max_batch=1, max_queue=4, expected_s_per_image=1.0)
    with pytest.raises(RuntimeError, match="out of memory"):
        await w.submit(LocalJob(key="k", prompt="a", n=1))
    assert (await w.submit(LocalJob(key="k", prompt="b", n=1))).images == ["ok"]
    await w.aclose()


def test_without_the_extra_local_offers_are_inactive_and_the_banner_says_why(monkeypatch, tmp_path) -> None:
    import sys

    from imagegate.providers.local import build_local, parse_local_config

    monkeypatch.setitem(sys.modules, "diffusers", None)  # as if the extra were not installed
    cfg = parse_local_config({"models": {"flux.1-schnell": {"pipeline": "FluxPipeline", "path": str(tmp_path)}}})
    provider, lines = build_local(cfg)
    assert provider is None
    assert lines == [
        "  local       inactive  (flux.1-schnell: diffusers is not installed "
        "(install the extra: pip install 'imagegate[local]'))"
    ]


def test_a_bad_local_setting_names_its_key() -> None:
    from imagegate.providers.local import parse_local_config
    from imagegate.providers.local.config import LocalConfigError

    with pytest.raises(LocalConfigError, match=r"local\.models\.m\.steps: Input should be greater than or equal to 1"):
        parse_local_config({"models": {"m": {"pipeline": "FluxPipeline", "path": "/x", "steps": 0}}})
    with pytest.raises(LocalConfigError, match=r"local\.models\.m\.device"):
        parse_local_config({"models": {"m": {"pipeline": "FluxPipeline", "path": "/x", "device": "tpu"}}})
