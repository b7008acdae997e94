"""Plumbing shared by the fake provider servers (aiohttp.web apps).

aiohttp rather than an ASGI framework because a fake must be able to misbehave at the transport
level (drop the connection, trickle a body), which ASGI hides.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from PIL import Image, ImageDraw

from imagegate.testing.faults import Decision, FaultInjector, FaultProfile

ErrorRenderer = Callable[[str, FaultInjector], web.StreamResponse]

_PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG", "webp": "WEBP"}
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def mime_for(fmt: str) -> str:
    return _MIME[fmt.lower()]


def make_image(width: int, height: int, fmt: str = "png", text: str = "") -> bytes:
    """Real image bytes of the given size; the colour is derived from ``text`` (deterministic)."""
    digest = hashlib.sha256(text.encode()).digest()
    img = Image.new("RGB", (width, height), (digest[0], digest[1], digest[2]))
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 8, height // 8, width * 7 // 8, height * 7 // 8), outline=(255, 255, 255), width=3)
    buf = io.BytesIO()
    pil_fmt = _PIL_FORMATS[fmt.lower()]
    img.save(buf, format=pil_fmt, **({"quality": 85} if pil_fmt == "JPEG" else {}))
    return buf.getvalue()


def abort_connection(request: web.Request) -> web.StreamResponse:
    """Drop the TCP connection without an HTTP answer (a 'connection reset')."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):  # RST rather than FIN
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        transport.abort()
    raise ConnectionResetError("fault injected: connection reset")


async def send_body(
    request: web.Request,
    body: bytes,
    *,
    status: int = 200,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    decision: Decision | None = None,
    chunk_delay_s: float = 0.05,
) -> web.StreamResponse:
    """Answer ``body``; trickled in 8 chunks when the decision asks for a slow body."""
    if decision is None or not decision.slow_body:
        return web.Response(body=body, status=status, content_type=content_type, headers=headers)
    resp = web.StreamResponse(status=status, headers=headers)
    resp.content_type = content_type
    resp.content_length = len(body)
    await resp.prepare(request)
    step = max(1, len(body) // 8)
    for i in range(0, len(body), step):
        await resp.write(body[i : i + step])
        await asyncio.sleep(chunk_delay_s)
    await resp.write_eof()
    return resp


@dataclass
class FakeState:
    """What every fake keeps: its injector and a log of the requests it saw (for assertions)."""

    injector: FaultInjector = field(default_factory=FaultInjector)
    seen: list[dict] = field(default_factory=list)


async def with_faults(
    request: web.Request,
    state: FakeState,
    render_error: ErrorRenderer,
    handler: Callable[[Decision], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    """Draw a decision, wait its latency, then answer the fault or call the real handler."""
    decision = state.injector.decide()
    await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault is not None:
        return render_error(decision.fault, state.injector)
    return await handler(decision)


class RunningFake:
    """A fake app served on a loopback port in the current event loop."""

    def __init__(self, app: web.Application, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> RunningFake:
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, reuse_address=True)
        await site.start()
        server: Any = site._server  # noqa: SLF001 - aiohttp exposes the bound port only here
        if self.port == 0 and server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        return self

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> RunningFake:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def profile_from_cli(spec: str | None) -> FaultProfile:
    return FaultProfile.parse(spec) if spec else FaultProfile()
