"""A client that goes away: while its answer is being made (the run is cancelled, logged 499) or while it is still
sending its body (one log line, no traceback)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.protocol import DISCONNECT_HOOK
from imagegate.pipeline import CLIENT_CLOSED

log = logging.getLogger("imagegate.api")
T = TypeVar("T")


class ClientGone(Exception):
    """The client disconnected before its answer was ready."""


async def until_disconnect(request: Request, work: Awaitable[T]) -> T:
    """Await ``work`` (the pipeline run); if the client disconnects first, cancel it (the run then logs the request
    as 499 and cancels its provider calls) and raise ``ClientGone``."""
    task = asyncio.current_task()
    assert task is not None
    gone = False

    def on_gone() -> None:
        nonlocal gone
        gone = True
        task.cancel()

    stop_watching = _watch(request, on_gone)
    try:
        return await work
    except asyncio.CancelledError:
        if not gone:
            raise
        task.uncancel()
        raise ClientGone() from None
    finally:
        await stop_watching()


def _watch(request: Request, on_gone: Callable[[], None]) -> Callable[[], Awaitable[None]]:
    """Call ``on_gone`` when the client disconnects; returns what stops watching. Under ``imagegate serve`` the
    protocol calls back (``DISCONNECT_HOOK``); under another server a task waits for ``http.disconnect``, which
    needs the request body fully read: after it, the next ASGI message can only be that."""
    hook = request.scope.get("extensions", {}).get(DISCONNECT_HOOK)
    if hook is not None:
        if hook(on_gone):  # already gone
            on_gone()

        async def unhook() -> None:
            hook(None)

        return unhook

    async def wait() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass
        on_gone()

    watcher = asyncio.ensure_future(wait())

    async def stop() -> None:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher

    return stop


def client_gone(request: Request, while_doing: str) -> Response:
    """One log line for a client that left; the response goes nowhere but ends the handler cleanly."""
    log.info("client disconnected %s: %s %s", while_doing, request.method, request.url.path)
    return Response(status_code=CLIENT_CLOSED)
