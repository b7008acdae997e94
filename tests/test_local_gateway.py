"""The ``local`` provider through the gateway, on a tiny Stable Diffusion pipeline (random weights, built here).

Needs the ``local`` extra (torch, diffusers, transformers): skipped without it. One real ``imagegate serve`` process
driven by the openai SDK; the batching, failover and cancellation cases run the same Gateway in-process, where the
test can hold the pipeline at a known point instead of timing it.
"""

from __future__ import annotations

import asyncio
import base64
import io
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import yaml
from openai import OpenAI
from PIL import Image

from imagegate.core.types import ImageRequest
from imagegate.settings import Settings
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess
from tests.local_catalog import TINY_MODEL, local_settings, write_catalog

pytest.importorskip("diffusers")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from imagegate.testing.tiny_diffusers import build_tiny_sd

    torch.set_num_threads(1)
    return build_tiny_sd(tmp_path_factory.mktemp("tiny-sd"))


@pytest.fixture(scope="module")
def catalog_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_catalog(tmp_path_factory.mktemp("catalog"))


def png(size: int = 64) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (30, 120, 200)).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- a real process, the openai SDK


@pytest.fixture(scope="module")
def served(tiny_model: Path, catalog_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("local-served")
    config = root / "imagegate.yaml"
    local = local_settings(tiny_model, usd_per_gpu_second=0.002)
    config.write_text(yaml.safe_dump({"catalog_dirs": [str(catalog_dir)], "local": local}), encoding="utf-8")
    proc = ServerProcess(root / "data", env={"OMP_NUM_THREADS": "1"}, config=config)
    try:
        proc.wait_ready(timeout=120)
        yield proc
    finally:
        proc.stop()


def test_generation_and_edit_run_on_the_local_pipeline(served: ServerProcess) -> None:
    client = OpenAI(base_url=served.url + "/v1", api_key="x", max_retries=0, timeout=120)
    img = client.images.generate(model=TINY_MODEL, prompt="a red cube", size="64x64", response_format="b64_json")
    meta = img.model_extra["metadata"]
    assert meta["provider"] == "local" and meta["executed_model"] == "local/tiny-sd"
    assert Image.open(io.BytesIO(base64.b64decode(img.data[0].b64_json))).size == (64, 64)
    assert meta["cost_micros"] >= 0 and meta["currency"] == "USD"  # $0.002 per device second, measured
    edit = client.images.edit(
        model=TINY_MODEL, image=("a.png", png(), "image/png"), prompt="make it green", response_format="b64_json"
    )
    assert edit.model_extra["metadata"]["provider"] == "local"
    assert "local" in served.output() and "StableDiffusionPipeline on cpu" in served.output()


# --------------------------------------------------------------------------- the same gateway in-process


@pytest.fixture
async def services(tiny_model: Path, catalog_dir: Path, tmp_path: Path) -> AsyncIterator[object]:
    from imagegate.services import build_services

    fleet = ThreadedFleet(Fleet(workdir=tmp_path / "fleet", providers=("fal",)))
    fleet.start()
    env = {**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"}
    settings = Settings.load(env=env, data_dir=tmp_path / "data")
    settings.catalog_dirs = [catalog_dir]
    settings.local = local_settings(tiny_model, max_batch=4, max_queue=3)
    svc = await build_services(settings)
    await svc.start()
    svc.fleet = fleet  # type: ignore[attr-defined]
    try:
        yield svc
    finally:
        await svc.aclose()
        fleet.stop()


def request(prompt: str = "a cube", **kw: object) -> ImageRequest:
    return ImageRequest(
        operation="generate", model=TINY_MODEL, prompt=prompt, size="64x64", response_format="b64_json", **kw
    )  # type: ignore[arg-type]


class Gate:
    """Holds the worker's pipeline calls until released; counts them."""

    def __init__(self, worker) -> None:  # type: ignore[no-untyped-def]
        self.inner = worker.run_batch
        self.entered = threading.Event()
        self.release = threading.Event()
        worker.run_batch = self

    def __call__(self, jobs):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.release.wait(30)
        return self.inner(jobs)


async def until(condition, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


async def test_equal_requests_are_batched(services) -> None:  # type: ignore[no-untyped-def]
    worker = services.providers["local"].workers[TINY_MODEL]
    gate = Gate(worker)
    first = asyncio.create_task(services.gateway.run(request("hold", extra={"num_inference_steps": 1})))
    await asyncio.to_thread(gate.entered.wait, 30)
    others = [asyncio.create_task(services.gateway.run(request(f"cube {i}"))) for i in range(3)]
    await until(lambda: worker.queued_images() == 3, "three requests queued")
    gate.release.set()
    answers = await asyncio.gather(first, *others)
    assert {a.provider for a in answers} == {"local"}
    assert worker.batches == 2 and worker.largest_batch == 3  # "hold" alone (other steps), then the three together


async def test_a_full_queue_fails_over_to_the_hosted_offer(services) -> None:  # type: ignore[no-untyped-def]
    worker = services.providers["local"].workers[TINY_MODEL]
    gate = Gate(worker)
    running = asyncio.create_task(services.gateway.run(request("hold", extra={"num_inference_steps": 1})))
    await asyncio.to_thread(gate.entered.wait, 30)
    queued = [
        asyncio.create_task(services.gateway.run(request(f"q{i}", extra={"num_inference_steps": 1}))) for i in range(3)
    ]
    await until(lambda: worker.queued_images() == 3, "the queue full")
    spilled = await services.gateway.run(request("one more"))
    assert spilled.provider == "fal"
    assert [a.outcome for a in spilled.attempts][-1] == "success"
    assert services.fleet.fleet.generation_calls("fal") >= 1
    gate.release.set()
    assert {a.provider for a in await asyncio.gather(running, *queued)} == {"local"}


async def test_the_router_prices_the_queue_wait(services) -> None:  # type: ignore[no-untyped-def]
    worker = services.providers["local"].workers[TINY_MODEL]
    assert services.gateway.dry_run(request())["provider"] == "local"  # free and idle
    gate = Gate(worker)
    held = [asyncio.create_task(services.gateway.run(request("h0")))]
    await asyncio.to_thread(gate.entered.wait, 30)
    held.append(asyncio.create_task(services.gateway.run(request("h1"))))
    await until(lambda: worker.queued_images() == 1, "a queue")
    assert services.gateway.dry_run(request())["provider"] == "local"  # a short wait: still worth it
    worker._batch_s = 120.0  # as if the device had taken two minutes per batch
    assert services.gateway.dry_run(request())["provider"] == "fal"  # the wait now outweighs the price
    gate.release.set()
    await asyncio.gather(*held)


async def test_a_cancelled_request_stops_the_pipeline_between_steps(services) -> None:  # type: ignore[no-untyped-def]
    worker = services.providers["local"].workers[TINY_MODEL]
    runner = services.providers["local"].runners[TINY_MODEL]
    task = asyncio.create_task(services.gateway.run(request("long", extra={"num_inference_steps": 200})))
    await until(lambda: bool(worker._running), "the batch running")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await until(lambda: not worker._running, "the pipeline stopped")
    assert 1 <= len(runner.last_steps.steps) < 200  # interrupted between steps, long before its 200
    assert worker.batches == 0  # the cancelled batch never completed
    answer = await services.gateway.run(request("next"))
    assert answer.provider == "local" and worker.batches == 1
    assert len(runner.last_steps.steps) == 2


def test_a_missing_model_directory_is_a_clear_start_up_message(tmp_path: Path) -> None:
    from imagegate.providers.local import build_local, parse_local_config

    cfg = parse_local_config({"models": {"m": {"pipeline": "StableDiffusionPipeline", "path": str(tmp_path / "no")}}})
    provider, lines = build_local(cfg)
    assert provider is None
    assert lines == [f"  local       inactive  (m: local.models.m.path: {tmp_path / 'no'} is not a directory)"]
