"""A batch whose gateway is killed mid-run resumes after a restart without losing or repeating a line; a running
batch can be cancelled."""

from __future__ import annotations

import io
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from imagegate.testing.fakes.gemini.batch import WORLD
from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.contract.test_batches_contract import GEN, line, read_jsonl, wait_batch
from tests.helpers_fleet import running_fleet
from tests.helpers_server import ServerProcess

HANG = FaultProfile(p50_ms=600_000, p95_ms=600_000)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path / "fleet", providers=("gemini",), profiles={"gemini": HANG})) as threaded:
        yield threaded


def _env(fleet: ThreadedFleet) -> dict[str, str]:
    return {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_BATCH_PROVIDER_MODE": "0",  # the emulated path (provider mode: test_provider_batch_restart)
        "IMAGEGATE_BATCH_CONCURRENCY": "2",
        "IMAGEGATE_JOBS_LEASE": "1",
        "IMAGEGATE_JOBS_POLL": "0.2",
    }


def _wait_calls(fleet: ThreadedFleet, n: int) -> None:
    deadline = time.monotonic() + 30
    while fleet.fleet.generation_calls("gemini") < n and time.monotonic() < deadline:
        time.sleep(0.05)  # polling until the calls are at the provider
    assert fleet.fleet.generation_calls("gemini") >= n


def _create(client: OpenAI, n: int):  # type: ignore[no-untyped-def]
    lines = [line(f"c{i}", f"resume {i}", response_format="b64_json") for i in range(n)]
    src = client.files.create(file=("in.jsonl", io.BytesIO("\n".join(lines).encode())), purpose="batch")
    return client.batches.create(input_file_id=src.id, endpoint=GEN, completion_window="24h")


def test_killed_batch_resumes_without_repeating_lines(fleet: ThreadedFleet, tmp_path: Path) -> None:
    injector = fleet.fleet.states["gemini"].injector
    fleet.call(injector.force, "ok", "ok")  # two lines answer at once, the next two hang
    first = ServerProcess(tmp_path / "data", env=_env(fleet))
    second = None
    try:
        first.wait_ready()
        batch = _create(OpenAI(base_url=first.url + "/v1", api_key="x", max_retries=0), 4)
        _wait_calls(fleet, 4)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        first.stop()
        fleet.call(injector.reconfigure, FaultProfile())
        second = ServerProcess(tmp_path / "data", env=_env(fleet))
        second.wait_ready()
        client = OpenAI(base_url=second.url + "/v1", api_key="x", max_retries=0)
        done = wait_batch(client, batch.id)
        assert done.status == "completed" and done.request_counts.completed == 4  # type: ignore[union-attr]
        out = read_jsonl(client, done.output_file_id)  # type: ignore[arg-type]
        assert sorted(o["custom_id"] for o in out) == ["c0", "c1", "c2", "c3"]
        # the two answered lines were not sent again; the two in flight at the kill were
        assert fleet.fleet.generation_calls("gemini") == 6
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_cancel_a_running_batch(fleet: ThreadedFleet, tmp_path: Path) -> None:
    gateway = ServerProcess(tmp_path / "data", env=_env(fleet))
    try:
        gateway.wait_ready()
        client = OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
        batch = _create(client, 5)
        _wait_calls(fleet, 2)
        assert client.batches.cancel(batch.id).status == "cancelling"
        done = wait_batch(client, batch.id)
        assert done.status == "cancelled" and done.request_counts.completed == 0  # type: ignore[union-attr]
        assert fleet.fleet.generation_calls("gemini") == 2  # no line started after the cancel
        assert done.request_counts.total == 5  # type: ignore[union-attr]
    finally:
        gateway.stop()


def test_provider_batch_survives_a_restart_without_resubmitting(fleet: ThreadedFleet, tmp_path: Path) -> None:
    """Gemini batch creation is not idempotent: a restarted runner polls the batch it submitted, never a new one."""
    world = fleet.fleet.running["gemini"].app[WORLD]
    world.pending_polls = 10**9  # the provider's batch stays running until the test lets it finish
    env = {**_env(fleet), "IMAGEGATE_BATCH_PROVIDER_MODE": "1", "IMAGEGATE_BATCH_POLL": "0.05"}
    first = ServerProcess(tmp_path / "data", env=env)
    second = None
    try:
        first.wait_ready()
        batch = _create(OpenAI(base_url=first.url + "/v1", api_key="x", max_retries=0), 3)
        assert batch.model_extra["mode"] == "gemini"
        deadline = time.monotonic() + 30
        while not any(n > 0 for n in world.polls.values()) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling until the runner is polling the provider
        assert len(world.batches) == 1
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        first.stop()
        world.pending_polls = 0
        second = ServerProcess(tmp_path / "data", env=env)
        second.wait_ready()
        client = OpenAI(base_url=second.url + "/v1", api_key="x", max_retries=0)
        done = wait_batch(client, batch.id)
        assert done.status == "completed" and done.request_counts.completed == 3  # type: ignore[union-attr]
        assert sorted(o["custom_id"] for o in read_jsonl(client, done.output_file_id)) == ["c0", "c1", "c2"]  # type: ignore[arg-type]
        assert len(world.batches) == 1 and world.seen_batch_requests == 3  # submitted once
    finally:
        first.stop()
        if second is not None:
            second.stop()
