"""Run uvicorn for ``imagegate serve``: one worker as uvicorn runs it, several with two fixes of our own.

- Shutdown refuses new connections: uvicorn's supervisor keeps its copy of the listening socket open while the
  workers drain, so the kernel goes on accepting connections nobody will serve and resets them at exit. Ours closes
  it as soon as it is told to stop; with the workers' copies closed too, a new connection is refused, as with one
  worker.
- ``/metrics`` covers every worker: prometheus-client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, a fresh
  directory for this server unless one is set), read by ``telemetry.metrics.Metrics.render``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class RefusingMultiprocess(Multiprocess):
    """uvicorn's supervisor, closing its listening socket before it stops the workers."""

    def terminate_all(self) -> None:
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        super().terminate_all()


@contextlib.contextmanager
def multiprocess_metrics_dir() -> Iterator[str]:
    """A directory for the workers' metric files, set in the environment they inherit; removed afterwards."""
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        os.makedirs(given, exist_ok=True)
        yield given
        return
    path = tempfile.mkdtemp(prefix="imagegate-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield path
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def run(app: str, *, workers: int, **options: Any) -> None:
    """``uvicorn.run(app, workers=workers, **options)``, with the fixes above when ``workers > 1``."""
    if workers <= 1:
        uvicorn.run(app, workers=1, **options)
        return
    with multiprocess_metrics_dir():
        config = uvicorn.Config(app, workers=workers, **options)
        sock = config.bind_socket()
        try:
            RefusingMultiprocess(config, sockets=[sock]).run()
        finally:
            with contextlib.suppress(OSError):
                sock.close()
