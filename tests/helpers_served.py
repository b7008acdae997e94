"""An ASGI app under uvicorn with the HTTP protocol ``imagegate serve`` runs, on the test's own event loop."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn

from imagegate.api.protocol import GatewayProtocol


@contextlib.asynccontextmanager
async def served(app: Any, *, lifespan: str = "off") -> AsyncIterator[int]:
    """Serve ``app`` on a free loopback port until the block ends; yields the port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, http=GatewayProtocol, lifespan=lifespan, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():  # failed at start: raise its error
                await task
            await asyncio.sleep(0.01)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[bytes, bytes]:
    """Send one HTTP/1.1 request on a kept-alive connection; its answer's head and body (by Content-Length)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)
