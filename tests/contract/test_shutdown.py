"""SIGTERM drains in-flight requests and flushes the request log: nothing is lost on a clean shutdown."""

from __future__ import annotations

import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess

IN_FLIGHT = 12


def test_sigterm_drains_in_flight_requests_and_flushes_the_log(tmp_path) -> None:
    fleet = ThreadedFleet(
        Fleet(
            workdir=tmp_path / "fleet",
            providers=("openai",),
            profiles={"openai": FaultProfile(p50_ms=1500, p95_ms=1600, seed=1)},
        )
    )
    fleet.start()
    data_dir = tmp_path / "data"
    proc = ServerProcess(data_dir, env={**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"})
    try:
        proc.wait_ready()
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            futures = [
                pool.submit(
                    httpx.post,
                    proc.url + "/v1/images/generations",
                    json={"model": "gpt-image-1", "prompt": f"drain {i}", "response_format": "b64_json"},
                    timeout=30,
                )
                for i in range(IN_FLIGHT)
            ]
            deadline = time.monotonic() + 20
            while fleet.fleet.generation_calls("openai") < IN_FLIGHT:  # every request has reached the upstream
                assert time.monotonic() < deadline, "requests never reached the upstream"
                time.sleep(0.01)
            proc.proc.send_signal(signal.SIGTERM)
            statuses = [f.result().status_code for f in futures]
        # uvicorn re-raises the signal once its graceful shutdown is done, so the exit status says SIGTERM.
        assert proc.proc.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        proc.stop()
        fleet.stop()
    assert statuses == [200] * IN_FLIGHT
    with sqlite3.connect(data_dir / "imagegate.db") as db:
        (requests,) = db.execute("select count(*) from requests where status = 200").fetchone()
        (attempts,) = db.execute("select count(*) from attempts where outcome = 'success'").fetchone()
    assert requests == IN_FLIGHT
    assert attempts == IN_FLIGHT
