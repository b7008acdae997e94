"""A served image generation leaves no reference cycles behind: everything it allocates is freed by reference
counting. Cyclic garbage costs collector passes that grow with the request rate: a closure over the HTTP cycle kept
in the request's scope (tried for ``protocol.BODY_RECEIVED``) left ~15 objects per request, 15 collections in 6 s
at 2,700 req/s, 4.7 % of the time and p99 22 ms instead of 15 (``docs/benchmarks.md``, issue 18;
``bench/overhead/gc_probe``)."""

from __future__ import annotations

import asyncio
import gc
from pathlib import Path

import orjson

from imagegate.api.app import create_app
from imagegate.settings import Settings
from tests.helpers_served import exchange, served

BODY = orjson.dumps({"model": "gemini-3-pro-image-preview", "prompt": "a lighthouse", "response_format": "b64_json"})
REQUEST = (
    b"POST /v1/images/generations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY
)
ROUNDS = 40


async def test_served_generations_leave_no_reference_cycles(tmp_path: Path) -> None:
    app = create_app(Settings.load(env={}, data_dir=tmp_path / "data"))  # the placeholder provider answers
    async with served(app, lifespan="on") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(5):  # warm-up: lazy imports, caches, pools
            head, _ = await exchange(reader, writer, REQUEST)
            assert head.startswith(b"HTTP/1.1 200"), head
        gc.collect()
        gc.disable()
        try:
            for _ in range(ROUNDS):
                head, body = await exchange(reader, writer, REQUEST)
                assert head.startswith(b"HTTP/1.1 200") and b"b64_json" in body
            garbage = gc.collect()
        finally:
            gc.enable()
        writer.close()
    # 14 from the background tasks (2026-12-02); the closure left 14 per request
    assert garbage < ROUNDS, f"{garbage} objects in reference cycles after {ROUNDS} requests"
