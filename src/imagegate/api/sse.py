"""Server-sent events: the response class and the framing shared by the image and chat streams.

``EventStreamResponse`` always listens for the client's disconnect while it streams (whatever ASGI spec version
the server speaks), so a client that goes away cancels the body generator at once, and with it the upstream call,
instead of at the next keep-alive write.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from imagegate.api.encode import Part
from imagegate.core.errors import GatewayError

KEEPALIVE = b": keep-alive\n\n"


class EventStreamResponse(StreamingResponse):
    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[Part], headers: dict[str, str] | None = None) -> None:
        base = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, headers={**base, **(headers or {})})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self.stream_response(send))
        listening = asyncio.ensure_future(self.listen_for_disconnect(receive))
        try:
            await asyncio.wait((streaming, listening), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, listening):
                task.cancel()  # a disconnect cancels the body generator (its finally cancels the pipeline)
            await asyncio.gather(streaming, listening, return_exceptions=True)
        if not streaming.cancelled() and streaming.exception() is not None:
            raise streaming.exception()  # type: ignore[misc]


def event(kind: str | None, parts: list[Part]) -> list[Part]:
    """One event: ``event: kind`` (when given) and ``data:`` holding ``parts`` (JSON without newlines)."""
    head = f"event: {kind}\ndata: ".encode() if kind else b"data: "
    return [head, *parts, b"\n\n"]


def json_event(kind: str | None, obj: object) -> list[Part]:
    return event(kind, [orjson.dumps(obj)])


def comment(text: str) -> bytes:
    """An SSE comment line (ignored by clients, keeps proxies from timing out)."""
    return b": " + " ".join(text.split()).encode() + b"\n\n"


def error_event(exc: GatewayError, *, named: bool = True) -> list[Part]:
    """The OpenAI error shape as an ``error`` event; openai-python raises ``APIError`` on it."""
    return json_event("error" if named else None, {"type": "error", **exc.body()})


async def wait_set(flag: asyncio.Event, timeout: float) -> bool:
    """Wait up to ``timeout`` s for ``flag``; True when it is set, False on a keep-alive tick."""
    if flag.is_set():
        return True
    try:
        async with asyncio.timeout(timeout):
            await flag.wait()
    except TimeoutError:
        return False
    return True
