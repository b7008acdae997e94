"""The HTTP protocol ``imagegate serve`` runs: uvicorn's httptools protocol with two additions.

- **Header read timeout**: a connection whose request line and headers have not all arrived ``header_timeout_s``
  after it opened, or after a keep-alive request began, is answered ``408`` and closed (uvicorn has no such limit).
- **Disconnect callback**: ``scope["extensions"][DISCONNECT_HOOK](callback)`` asks to have ``callback`` called when
  the connection is lost (``None`` withdraws it) and returns True when it is already gone. ``api/disconnect.py``
  uses it instead of a task per request waiting on ``receive()``.
- **Body received**: ``scope["extensions"][BODY_RECEIVED]()`` is True once the whole request body has arrived, so
  the next ``receive()`` returns it without waiting: ``api/timeouts.timed_body`` then sets no timer for it (a
  2 KB request usually arrives with its headers, in one read).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_408_BODY = b"request headers too slow\n"
_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
    + f"content-length: {len(_408_BODY)}\r\nconnection: close\r\n\r\n".encode()
    + _408_BODY
)

HEADER_TIMEOUT_ENV = "IMAGEGATE_HEADER_TIMEOUT_S"  # what ``imagegate serve`` hands its workers
DISCONNECT_HOOK = "imagegate.on_disconnect"
BODY_RECEIVED = "imagegate.body_received"


class GatewayProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a header read timeout, a disconnect callback and a body-received check."""

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
        extensions: dict[str, Any] = {DISCONNECT_HOOK: self._watch_disconnect, BODY_RECEIVED: self._body_received}
        self.scope["extensions"] = extensions  # type: ignore[typeddict-item]
        self._arm()

    def _watch_disconnect(self, callback: Callable[[], None] | None) -> bool:
        self._on_gone = callback
        return self.transport.is_closing() or (self.cycle is not None and self.cycle.disconnected)

    def _body_received(self) -> bool:
        """Asked by a request that is running, so ``self.cycle`` is its cycle or, once its body is complete, a
        pipelined request's after it: then the answer may be False, and the caller only sets a timer it did not
        need. (A closure over the cycle would make a reference cycle with its scope: garbage for the collector.)"""
        cycle = self.cycle
        return cycle is not None and not cycle.more_body

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
