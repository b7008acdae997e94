"""A gateway killed (SIGKILL) or stopped (SIGTERM) while a job waits on its provider: after a restart the job
runs again and finishes, and its webhook event is delivered once."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.contract.test_jobs_contract import wait_job
from tests.helpers_fleet import running_fleet
from tests.helpers_server import ServerProcess
from tests.webhook_receiver import Receiver

HANG = FaultProfile(p50_ms=600_000, p95_ms=600_000)  # the first gateway's call never comes back


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[ThreadedFleet]:
    with running_fleet(Fleet(workdir=tmp_path / "fleet", providers=("gemini",), profiles={"gemini": HANG})) as threaded:
        yield threaded


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "stopped"])
def test_job_survives_a_gateway_restart(fleet: ThreadedFleet, tmp_path: Path, stop_signal: signal.Signals) -> None:
    """Killed: the job's lease runs out and the next runner takes it. Stopped: the runner hands it back at once."""
    receiver = Receiver()
    env = {
        **fleet.fleet.env(),
        "IMAGEGATE_PLACEHOLDER": "off",
        "IMAGEGATE_WEBHOOKS_ALLOW_PRIVATE": "1",
        "IMAGEGATE_WEBHOOK_RETRY_DELAYS": "0,0,0",
        "IMAGEGATE_JOBS_LEASE": "1",  # a dead runner's job is taken back one second after its last renewal
        "IMAGEGATE_JOBS_POLL": "0.2",
    }
    data = tmp_path / "data"
    first = ServerProcess(data, env=env)
    second = None
    try:
        first.wait_ready()
        secret = httpx.post(first.url + "/v1/webhooks/secret").json()["secret"]
        job = httpx.post(
            first.url + "/v1/images/generations",
            json={"model": "gemini/gemini-3-pro-image-preview", "prompt": "survive", "webhook_url": receiver.url()},
            timeout=30,
        ).json()
        assert wait_job(first.url, job["id"], until=("running",))["runs"] == 1
        deadline = time.monotonic() + 30
        while fleet.fleet.generation_calls("gemini") < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # polling until the call is at the provider
        assert fleet.fleet.generation_calls("gemini") >= 1
        first.proc.send_signal(stop_signal)
        first.proc.wait(timeout=30)
        if stop_signal == signal.SIGTERM:
            assert "handed 1 running job(s) back to the queue" in first.output()
        first.stop()
        fleet.call(fleet.fleet.states["gemini"].injector.reconfigure, FaultProfile())  # the provider recovers
        second = ServerProcess(data, env=env)
        second.wait_ready()
        done = wait_job(second.url, job["id"])
        assert done["status"] == "succeeded" and done["runs"] == 2
        assert done["result"]["metadata"]["provider"] == "gemini"
        delivery = receiver.next()
        event = Webhook(secret).verify(delivery.body, delivery.headers)
        assert event["type"] == "image.job.succeeded" and event["data"]["id"] == job["id"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
        receiver.close()
    assert receiver.deliveries.empty()


def test_imagegate_worker_runs_jobs_the_gateway_only_queues(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    gateway = ServerProcess(data, env={"IMAGEGATE_JOBS_IN_PROCESS": "0"})
    worker = None
    try:
        gateway.wait_ready()
        job = httpx.post(
            gateway.url + "/v1/images/generations",
            json={"model": "gemini-3-pro-image", "prompt": "for the worker", "response_format": "b64_json"},
            headers={"Prefer": "respond-async"},
            timeout=30,
        ).json()
        assert httpx.get(f"{gateway.url}/v1/jobs/{job['id']}").json()["status"] == "queued"
        env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("IMAGEGATE_")}
        worker = subprocess.Popen(
            [sys.executable, "-m", "imagegate", "worker", "--data-dir", str(data)],
            env={**env, "IMAGEGATE_JOBS_POLL": "0.1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        done = wait_job(gateway.url, job["id"])
        assert done["status"] == "succeeded" and done["result"]["data"][0]["b64_json"]
    finally:
        if worker is not None:
            worker.terminate()
            out = worker.communicate(timeout=30)[0].decode(errors="replace")
            assert "imagegate worker run_" in out, out
        gateway.stop()
