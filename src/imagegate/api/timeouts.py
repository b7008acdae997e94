"""Read timeouts, so a client that sends half a request cannot hold a connection (and a worker's slot) forever.

- Headers: ``api/protocol.GatewayProtocol`` closes a connection whose request line and headers have not all arrived
  ``header_timeout_s`` after it opened, or after a keep-alive request began, with a ``408``.
- Body: ``BodyTimeout`` (ASGI middleware) waits at most ``body_timeout_s`` for each next piece of a request body;
  then the request is answered ``408 REQUEST_TIMEOUT`` in the error shape and the connection closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.types import Message, Receive, Scope

from imagegate.api.protocol import BODY_RECEIVED
from imagegate.core.errors import GatewayError


class RequestTimeout(GatewayError):
    status = 408
    code = "REQUEST_TIMEOUT"
    type = "invalid_request_error"


class BodyTimeout:
    """ASGI middleware: each ``receive`` of a request body waits at most ``timeout_s``. Once the body is complete,
    a ``receive`` only waits for the client to leave (``api/disconnect.py`` watches for it while the answer is
    made, for as long as that takes): it is not timed."""

    def __init__(self, app: Any, timeout_s: float = 30.0) -> None:
        self.app = app
        self.timeout_s = timeout_s

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.app(scope, timed_body(scope, receive, self.timeout_s), send)


def timed_body(scope: Scope, receive: Receive, timeout_s: float) -> Receive:
    """``receive`` with each piece of a request body waited for at most ``timeout_s`` (``RequestTimeout`` after
    that); unchanged for a request that has no body to wait for (not HTTP, or GET, HEAD, OPTIONS). Under
    ``imagegate serve`` a body that has all arrived is received without a timer (``protocol.BODY_RECEIVED``)."""
    if scope["type"] != "http" or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
        return receive
    received = scope.get("extensions", {}).get(BODY_RECEIVED)
    body_done = False

    async def timed_receive() -> Message:
        nonlocal body_done
        if body_done:
            return await receive()
        if received is not None and received():
            message = await receive()  # all of it is in: returned without waiting
        else:
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

    return timed_receive
