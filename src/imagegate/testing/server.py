"""``imagegate serve`` as a child process on a loopback port: for the contract tests, the demo and benchmarks.

The child gets the caller's environment minus every ``IMAGEGATE_*`` setting and every real provider key, plus
``env``: it can only reach what the caller points it at.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from imagegate.settings import PROVIDER_ENV


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayProcess:
    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        config: Path | None = None,
        port: int | None = None,
        log_path: Path | None = None,
        extra_args: list[str] | None = None,
        new_session: bool = False,
    ) -> None:
        """``new_session``: the child does not get the terminal's Ctrl-C; its owner stops it (the demo does)."""
        self.port = port or free_port()
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEGATE_")}
        for key_var, _url_var in PROVIDER_ENV.values():
            full.pop(key_var, None)
        full.update(env or {})
        argv = [sys.executable, "-m", "imagegate", "serve", "--port", str(self.port), "--data-dir", str(data_dir)]
        if config:
            argv += ["--config", str(config)]
        argv += extra_args or []
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path or data_dir.parent / f"server-{self.port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            argv, env=full, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=new_session
        )

    def _check_alive(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the gateway exited early; its output:\n{self.output()}")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)  # polling for readiness, not timing a result
        raise RuntimeError(f"the gateway was not ready in {timeout:g} s:\n{self.output()}")

    async def wait_ready_async(self, client: httpx.AsyncClient, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(self.url + "/health", timeout=1.0)).status_code == 200:
                    return
            await asyncio.sleep(0.1)  # polling for readiness
        raise RuntimeError(f"the gateway was not ready in {timeout:g} s (log: {self.log_path})")

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
