"""``imagegate worker``: a process that only runs jobs and webhook deliveries, next to the gateways that queue them
(set ``jobs_in_process: false`` on those). It shares their database, blob store and settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from imagegate.settings import Settings

log = logging.getLogger("imagegate.jobs")


async def run_worker(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run until SIGINT/SIGTERM (or ``stop``); running jobs go back to the queue on the way out."""
    from imagegate.services import build_services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    services = await build_services(settings)
    await services.start()
    assert services.work is not None
    await services.work.start(run_jobs=True)
    print(f"imagegate worker {services.work.runner.id}: running jobs from {services.db!r}", flush=True)
    try:
        await stop.wait()
    finally:
        await services.aclose()
