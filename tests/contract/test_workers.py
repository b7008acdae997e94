"""``imagegate serve --workers 2``: /metrics sums every worker, needs a key when keys are set, and SIGTERM refuses
new connections while the workers drain (as one worker does)."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from imagegate.testing.faults import FaultProfile
from imagegate.testing.fleet import Fleet, ThreadedFleet
from tests.helpers_server import ServerProcess

KEY = "sk-workers-test-master"
MODEL = "gemini-3-pro-image-preview"


def _requests_total(text: str) -> float:
    return sum(float(v) for v in re.findall(r"^imagegate_requests_total\{[^}]*\} (\S+)$", text, re.M))


def test_metrics_sum_every_worker_and_need_a_key(tmp_path) -> None:
    proc = ServerProcess(tmp_path / "data", env={"IMAGEGATE_MASTER_KEY": KEY}, extra_args=["--workers", "2"])
    auth = {"Authorization": f"Bearer {KEY}"}
    try:
        proc.wait_ready()
        sent = 30
        for i in range(sent):  # one connection each, so the kernel spreads them over both workers
            r = httpx.post(
                proc.url + "/v1/images/generations",
                json={"model": MODEL, "prompt": f"p{i}", "size": "256x256", "response_format": "b64_json"},
                headers={**auth, "Connection": "close"},
                timeout=30,
            )
            assert r.status_code == 200, r.text
        assert httpx.get(proc.url + "/metrics").status_code == 401
        for _ in range(6):
            r = httpx.get(proc.url + "/metrics", headers={**auth, "Connection": "close"})
            assert r.status_code == 200
            assert _requests_total(r.text) == sent  # the same total whichever worker answers
    finally:
        proc.stop()


def test_metrics_public_opens_the_endpoint(tmp_path) -> None:
    proc = ServerProcess(tmp_path / "data", env={"IMAGEGATE_MASTER_KEY": KEY, "IMAGEGATE_METRICS_PUBLIC": "true"})
    try:
        proc.wait_ready()
        r = httpx.get(proc.url + "/metrics")
        assert r.status_code == 200 and "imagegate_requests" in r.text
        assert httpx.get(proc.url + "/v1/models").status_code == 401  # the API still needs the key
    finally:
        proc.stop()


def _connect_outcome(port: int) -> str:
    """'refused', 'served' (a worker answered) or 'stalled' (accepted, then never answered or reset)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            sock.settimeout(2)
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = sock.recv(1024)
    except ConnectionRefusedError:
        return "refused"
    except (TimeoutError, ConnectionResetError):
        return "stalled"
    return "served" if reply.startswith(b"HTTP/1.1") else "stalled"


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_refuses_new_connections_while_draining(tmp_path, workers: int) -> None:
    fleet = ThreadedFleet(
        Fleet(
            workdir=tmp_path / "fleet",
            providers=("openai",),
            profiles={"openai": FaultProfile(p50_ms=4000, p95_ms=4100, seed=1)},
        )
    )
    fleet.start()
    proc = ServerProcess(
        tmp_path / "data",
        env={**fleet.fleet.env(), "IMAGEGATE_PLACEHOLDER": "off"},
        extra_args=["--workers", str(workers)],
    )
    try:
        proc.wait_ready()
        with ThreadPoolExecutor(4) as pool:
            body = {"model": "gpt-image-1", "prompt": "drain", "response_format": "b64_json"}
            futures = [
                pool.submit(httpx.post, proc.url + "/v1/images/generations", json=body, timeout=30) for _ in range(4)
            ]
            deadline = time.monotonic() + 20
            while fleet.fleet.generation_calls("openai") < 4:  # every request has reached the upstream
                assert time.monotonic() < deadline, "requests never reached the upstream"
                time.sleep(0.01)
            proc.proc.send_signal(signal.SIGTERM)
            outcomes = []
            while not any(f.done() for f in futures):  # the workers are still draining
                # 'stalled' can happen once per worker, for a connection it accepted just as it began to shut down
                # (as with one worker); a listener left open stalls every new connection until the process exits.
                outcomes.append(_connect_outcome(proc.port))
                if outcomes[-1] == "refused":
                    break
            summary = f"{Counter(outcomes)}, last {outcomes[-4:]}"
            assert outcomes and outcomes[-1] == "refused", summary
            assert outcomes.count("stalled") <= workers, summary
            assert not any(f.done() for f in futures)  # refused while requests were still in flight
            assert [f.result().status_code for f in futures] == [200] * 4
    finally:
        proc.stop()
        fleet.stop()
