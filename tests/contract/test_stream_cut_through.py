"""Contract: a partial image reaches the client while the upstream is still sending it (cut-through relay).

The upstream here writes the first half of a large partial-image event and then waits until the test releases it;
the test's client, reading the gateway's stream, must already hold the start of that event. No timing involved.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import random
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from aiohttp import web
from openai import OpenAI
from PIL import Image

from imagegate.testing.fakes.common import RunningFake
from tests.helpers_server import ServerProcess


def noise_b64(side: int = 200) -> str:
    buf = io.BytesIO()
    Image.frombytes("RGB", (side, side), random.Random(1).randbytes(side * side * 3)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


class Upstream:
    """An OpenAI-style streaming upstream on its own thread and loop; ``release`` lets the first event finish."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.b64 = noise_b64()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        app = web.Application()
        app.router.add_post("/v1/images/generations", self.generations)
        self.fake = RunningFake(app)

    async def generations(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        common = {"size": "1024x1024", "quality": "medium", "background": "opaque", "output_format": "png",
                  "created_at": 1}  # fmt: skip
        partial = json.dumps({"type": "image_generation.partial_image", "b64_json": self.b64,
                              "partial_image_index": 0, **common}).encode()  # fmt: skip
        usage = {"input_tokens": 5, "input_tokens_details": {"image_tokens": 0, "text_tokens": 5}, "output_tokens": 9,
                 "total_tokens": 14}  # fmt: skip
        done = json.dumps({"type": "image_generation.completed", "b64_json": self.b64, **common, "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        half = len(partial) // 2
        await resp.write(b"event: image_generation.partial_image\ndata: " + partial[:half])
        await asyncio.to_thread(self.release.wait, 30)
        await resp.write(partial[half:] + b"\n\n")
        await resp.write(b"event: image_generation.completed\ndata: " + done.encode() + b"\n\n")
        await resp.write_eof()
        return resp

    def __enter__(self) -> Upstream:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, ServerProcess]]:
    with Upstream() as up:
        env = {"OPENAI_API_KEY": "sk-cut-through", "IMAGEGATE_OPENAI_BASE_URL": up.fake.url + "/v1",
               "IMAGEGATE_PLACEHOLDER": "off", "IMAGEGATE_STREAM_KEEPALIVE": "0.05"}  # fmt: skip
        gw = ServerProcess(tmp_path_factory.mktemp("cut") / "data", env=env)
        try:
            gw.wait_ready()
            yield up, gw
        finally:
            gw.stop()


def test_partial_image_is_relayed_while_it_arrives(setup: tuple[Upstream, ServerProcess]) -> None:
    up, gw = setup
    up.release.clear()
    body = {"model": "gpt-image-1", "prompt": "x", "stream": True, "partial_images": 1}
    with httpx.stream("POST", gw.url + "/v1/images/generations", json=body, timeout=30) as resp:
        got = b""
        chunks = resp.iter_raw()
        while up.b64[:1000].encode() not in got:
            got += next(chunks)
        assert not up.release.is_set()  # the upstream is still holding back the second half of that event
        time.sleep(0.3)  # several keep-alive intervals pass mid-event: none may be written inside it
        up.release.set()
        got += b"".join(chunks)
    text = got.decode()
    assert text.startswith("event: image_generation.partial_image\ndata: ")
    first = json.loads(text.split("\n\n")[0].split("data: ", 1)[1])
    assert first["b64_json"] == up.b64 and first["partial_image_index"] == 0  # intact, verbatim
    assert ": keep-alive" not in text.split("\n\n")[0]


def test_the_sdk_reads_a_cut_through_stream(setup: tuple[Upstream, ServerProcess]) -> None:
    up, gw = setup
    up.release.set()
    client = OpenAI(base_url=gw.url + "/v1", api_key="x", max_retries=0)
    events = list(client.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=1))
    assert [e.type for e in events] == ["image_generation.partial_image", "image_generation.completed"]
    assert events[0].b64_json == up.b64 == events[1].b64_json
    assert events[1].model_extra["metadata"]["provider"] == "openai"
