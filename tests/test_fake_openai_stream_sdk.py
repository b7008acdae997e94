"""Faithfulness: the official openai SDK streams partial images straight from the fake OpenAI Images API."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator

import openai
import pytest
from PIL import Image

from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.openai import OpenAIFakeState, create_app

KEY = "sk-sdk-stream-key-0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, OpenAIFakeState]]:
    state = OpenAIFakeState(api_key=KEY, partial_interval_s=0.0)
    async with RunningFake(create_app(state)) as running:
        yield running, state


def client(running: RunningFake) -> openai.OpenAI:
    return openai.OpenAI(base_url=running.url + "/v1", api_key=KEY, max_retries=0)


async def test_generate_stream(fake: tuple[RunningFake, OpenAIFakeState]) -> None:
    running, state = fake

    def work() -> list:
        with client(running) as c:
            return list(c.images.generate(model="gpt-image-1", prompt="a kite", size="1536x1024", quality="low",
                                          stream=True, partial_images=3))  # fmt: skip

    events = await asyncio.to_thread(work)
    assert [e.type for e in events] == ["image_generation.partial_image"] * 3 + ["image_generation.completed"]
    assert [e.partial_image_index for e in events[:3]] == [0, 1, 2]
    for e in events:
        assert Image.open(io.BytesIO(base64.b64decode(e.b64_json))).size == (1536, 1024)
        assert (e.size, e.quality, e.output_format) == ("1536x1024", "low", "png")
    assert events[-1].usage.output_tokens == 408 + 300
    assert state.stream_outcomes == ["completed"]
    assert state.seen[-1]["raw"]["stream"] is True


async def test_edit_stream(fake: tuple[RunningFake, OpenAIFakeState]) -> None:
    running, _ = fake

    def work() -> list:
        with client(running) as c:
            image = ("a.png", make_image(64, 64, "png", "a"), "image/png")
            return [e.type for e in c.images.edit(model="gpt-image-1", image=image, prompt="hat", stream=True,
                                                  partial_images=1)]  # fmt: skip

    assert await asyncio.to_thread(work) == ["image_edit.partial_image", "image_edit.completed"]


@pytest.mark.parametrize("fault", ["error", "cut"])
async def test_stream_faults(fake: tuple[RunningFake, OpenAIFakeState], fault: str) -> None:
    running, state = fake
    state.stream_fault = fault

    def work() -> list:
        seen = []
        with client(running) as c, pytest.raises((openai.APIError, openai.APIConnectionError)):
            for e in c.images.generate(model="gpt-image-1", prompt="x", stream=True, partial_images=2):
                seen.append(e.type)
        return seen

    assert await asyncio.to_thread(work) == ["image_generation.partial_image"]


async def test_stream_with_n_above_one_is_refused(fake: tuple[RunningFake, OpenAIFakeState]) -> None:
    running, _ = fake

    def work() -> None:
        with client(running) as c, pytest.raises(openai.BadRequestError) as info:
            c.images.generate(model="gpt-image-1", prompt="x", n=2, stream=True, partial_images=1)
        assert info.value.body["param"] == "n"

    await asyncio.to_thread(work)
