"""Read timeouts, so a client that sends half a request cannot hold a connection (and a worker's slot) forever.

- Headers: ``HeaderTimeoutProtocol`` (uvicorn's httptools protocol plus a timer) closes a connection whose request
  line and headers have not all arrived ``header_timeout_s`` after it opened, or after a keep-alive request began,
  with a ``408``. uvicorn has no such limit of its own.
- Body: ``BodyTimeout`` (ASGI middleware) waits at most ``body_timeout_s`` for each next piece of a request body;
  then the request is answered ``408 REQUEST_TIMEOUT`` in the error shape and the connection closed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from imagegate.core.errors import GatewayError

_408_BODY = b"request headers too slow\n"
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
    + f"content-length: {len(_408_BODY)}\r\nconnection: close\r\n\r\n".encode()
    + _408_BODY
)

HEADER_TIMEOUT_ENV = "IMAGEGATE_HEADER_TIMEOUT_S"  # what ``imagegate serve`` hands its workers
# ASGI scope extension: ``scope["extensions"][DISCONNECT_HOOK](callback)`` asks the protocol to call ``callback`` when
# the connection is lost (``None`` withdraws it); it returns True when the connection is already gone.
# ``api/disconnect.py`` uses it instead of a task waiting on ``receive()`` per request.
DISCONNECT_HOOK = "imagegate.on_disconnect"


class RequestTimeout(GatewayError):
    status = 408
    code = "REQUEST_TIMEOUT"
    type = "invalid_request_error"


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for the request line and headers."""

    header_timeout_s: float | None = None  # None: read HEADER_TIMEOUT_ENV once (workers are separate processes)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._on_gone: Callable[[], None] | None = None

    @classmethod
    def _timeout(cls) -> float:
        if cls.header_timeout_s is None:
            cls.header_timeout_s = float(os.environ.get(HEADER_TIMEOUT_ENV) or 10.0)
        return cls.header_timeout_s

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._timeout(), self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        callback, self._on_gone = self._on_gone, None
        if callback is not None:
            callback()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {DISCONNECT_HOOK: self._watch_disconnect}  # type: ignore[dict-item]
        self._arm()

    def _watch_disconnect(self, callback: Callable[[], None] | None) -> bool:
        self._on_gone = callback
        return self.transport.is_closing() or (self.cycle is not None and self.cycle.disconnected)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._disarm()  # an idle keep-alive connection is the keep-alive timer's business

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_408)
        self.transport.close()


class BodyTimeout:
    """ASGI middleware: each ``receive`` of a request body waits at most ``timeout_s``. Once the body is complete,
    a ``receive`` only waits for the client to leave (``api/disconnect.py`` watches for it while the answer is
    made, for as long as that takes): it is not timed."""

    def __init__(self, app: Any, timeout_s: float = 30.0) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        timeout_s = self.timeout_s
        body_done = False

        async def timed_receive() -> Any:
            nonlocal body_done
            if body_done:
                return await receive()
            try:
                async with asyncio.timeout(timeout_s):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(
                    f"The request body stopped arriving: nothing came for {timeout_s:g} s (body_timeout_s).",
                    headers={"Connection": "close"},
                ) from None
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        await self.app(scope, timed_receive, send)
