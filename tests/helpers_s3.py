"""moto's S3 server as a real child process on a free loopback port, with a fresh bucket per test."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx

from imagegate.testing.server import free_port

# moto checks no signature; any key pair will do, and none of them is a secret
CREDENTIALS = {"IMAGEGATE_BLOB_ACCESS_KEY_ID": "testing", "IMAGEGATE_BLOB_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def moto_server(log_dir: Path) -> Iterator[str]:
    port = free_port()
    log = open(log_dir / f"moto-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"moto exited: {(log_dir / f'moto-{port}.log').read_text()}")
            with suppress(httpx.HTTPError):
                httpx.get(url + "/moto-api/", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("moto's server did not start in 30 s")
            time.sleep(0.05)  # polling for readiness
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def new_bucket(endpoint: str) -> str:
    name = f"ig-test-{uuid.uuid4().hex[:12]}"
    r = httpx.put(f"{endpoint}/{name}", headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    r.raise_for_status()
    return name
