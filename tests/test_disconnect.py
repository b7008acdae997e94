"""``api/disconnect.until_disconnect`` on both of its paths: the served protocol's callback (``DISCONNECT_HOOK``) and
the watcher task that waits for ``http.disconnect`` under any other server. The end-to-end case (a 499 in the
request log through ``imagegate serve``) is ``tests/contract/test_disconnect_contract.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.requests import Request

from imagegate.api.disconnect import ClientGone, until_disconnect
from imagegate.api.protocol import DISCONNECT_HOOK


class Hook:
    """Stands in for GatewayProtocol's callback registration."""

    def __init__(self, gone_already: bool = False) -> None:
        self.callback: Callable[[], None] | None = None
        self.calls: list[object] = []
        self.gone_already = gone_already

    def __call__(self, callback: Callable[[], None] | None) -> bool:
        self.calls.append(callback)
        self.callback = callback
        return self.gone_already


def request_with(hook: Hook | None, messages: asyncio.Queue[dict[str, Any]] | None = None) -> Request:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/", "headers": []}
    if hook is not None:
        scope["extensions"] = {DISCONNECT_HOOK: hook}
    queue = messages or asyncio.Queue()
    return Request(scope, queue.get)


async def test_the_protocols_callback_cancels_the_work_and_is_withdrawn() -> None:
    hook = Hook()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def work() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    run = asyncio.ensure_future(until_disconnect(request_with(hook), work()))
    await started.wait()
    assert hook.callback is not None
    hook.callback()  # the connection is lost
    with pytest.raises(ClientGone):
        await run
    assert cancelled.is_set()
    assert hook.calls[-1] is None  # withdrawn


async def test_a_connection_already_gone_ends_the_work_at_its_first_wait() -> None:
    hook = Hook(gone_already=True)

    async def work() -> str:
        await asyncio.sleep(0)
        return "never"

    with pytest.raises(ClientGone):
        await until_disconnect(request_with(hook), work())
    assert hook.calls[-1] is None


@pytest.mark.parametrize("served", [True, False], ids=["callback", "watcher"])
async def test_work_that_finishes_returns_its_result(served: bool) -> None:
    hook = Hook() if served else None

    async def work() -> str:
        return "answer"

    assert await until_disconnect(request_with(hook), work()) == "answer"
    if hook is not None:
        assert hook.calls[-1] is None


async def test_without_the_callback_a_task_waits_for_http_disconnect() -> None:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def work() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    run = asyncio.ensure_future(until_disconnect(request_with(None, messages), work()))
    await started.wait()
    await messages.put({"type": "http.disconnect"})
    with pytest.raises(ClientGone):
        await run


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_disconnect() -> None:
    started = asyncio.Event()

    async def work() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    run = asyncio.ensure_future(until_disconnect(request_with(Hook()), work()))
    await started.wait()
    run.cancel()  # the server stopping, say
    with pytest.raises(asyncio.CancelledError):
        await run
