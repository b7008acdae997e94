"""The served protocol's body-received check (``protocol.BODY_RECEIVED``) and ``timeouts.timed_body``'s use of it:
a body that has all arrived is received without a timer; one still on its way is timed. The slow-client case end to
end (a 408 through ``imagegate serve``) is ``tests/contract/test_read_timeouts.py``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from imagegate.api.protocol import BODY_RECEIVED
from imagegate.api.timeouts import RequestTimeout, timed_body
from tests.helpers_served import served

BODY = b'{"prompt": "a lighthouse"}'
HEAD = b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(BODY)


def _scope(received: Callable[[], bool] | None) -> dict[str, Any]:
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/"}
    if received is not None:
        scope["extensions"] = {BODY_RECEIVED: received}
    return scope


async def _receive_after_a_pause() -> dict[str, Any]:
    await asyncio.sleep(0)  # one suspension: a timer of 0 s has expired by the time it resumes
    return {"type": "http.request", "body": BODY, "more_body": False}


async def test_a_body_that_has_arrived_is_received_without_a_timer() -> None:
    receive = timed_body(_scope(lambda: True), _receive_after_a_pause, timeout_s=0)
    assert (await receive())["body"] == BODY


@pytest.mark.parametrize("received", [lambda: False, None], ids=["on its way", "other server"])
async def test_a_body_not_yet_in_is_timed(received: Callable[[], bool] | None) -> None:
    receive = timed_body(_scope(received), _receive_after_a_pause, timeout_s=0)
    with pytest.raises(RequestTimeout):
        await receive()


async def test_the_protocol_says_when_the_whole_body_is_in() -> None:
    seen: list[tuple[bool, bool]] = []  # (received() as the app starts, received() after it has the body)
    started = asyncio.Event()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        received = scope["extensions"][BODY_RECEIVED]
        before = received()
        started.set()
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        seen.append((before, received()))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    async with served(app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(HEAD + BODY)  # all in one read
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(len(BODY)) == BODY
        started.clear()
        writer.write(HEAD)  # the headers alone: the body comes once the app is running
        await writer.drain()
        await started.wait()
        writer.write(BODY)
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        assert await reader.readexactly(len(BODY)) == BODY
        writer.close()
    assert seen == [(True, True), (False, True)]
