"""Faithfulness: the official openai SDK works against the fake OpenAI Images API (sync SDK in a worker thread)."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest
from PIL import Image

from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.openai import OpenAIFakeState, create_app

KEY = "sk-sdk-test-key-0123456789"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, OpenAIFakeState]]:
    state = OpenAIFakeState(api_key=KEY)
    async with RunningFake(create_app(state)) as running:
        yield running, state


async def in_thread(running: RunningFake, fn: Callable[[openai.OpenAI], Any], key: str = KEY) -> Any:
    def work() -> Any:
        with openai.OpenAI(base_url=running.url + "/v1", api_key=key, max_retries=0) as client:
            return fn(client)

    return await asyncio.to_thread(work)


def png_file(width: int, height: int, name: str) -> tuple[str, bytes, str]:
    return (name, make_image(width, height, "png", name), "image/png")


def decoded(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


async def test_generate(fake) -> None:
    running, state = fake
    resp = await in_thread(
        running,
        lambda c: c.images.generate(
            model="gpt-image-1",
            prompt="a red kite",
            n=2,
            size="1024x1536",
            quality="low",
            output_format="webp",
            output_compression=50,
        ),
    )
    assert len(resp.data) == 2 and resp.size == "1024x1536" and resp.output_format == "webp"
    img = decoded(resp.data[0].b64_json)
    assert img.format == "WEBP" and img.size == (1024, 1536)
    assert resp.usage.output_tokens == 400 * 2 and resp.usage.input_tokens_details.text_tokens > 0


async def test_edit_one_image(fake) -> None:
    running, state = fake
    resp = await in_thread(
        running, lambda c: c.images.edit(model="gpt-image-1", image=png_file(1024, 1024, "a.png"), prompt="add a hat")
    )
    parts = state.seen[-1]["parts"]
    assert parts.count("image") == 1 and "image[]" not in parts
    assert decoded(resp.data[0].b64_json).size == (1024, 1024)
    assert resp.usage.input_tokens_details.image_tokens == 765


async def test_edit_several_images_and_mask(fake) -> None:
    running, state = fake
    resp = await in_thread(
        running,
        lambda c: c.images.edit(
            model="gpt-image-1",
            image=[png_file(1536, 1024, "a.png"), png_file(512, 512, "b.png")],
            mask=png_file(1536, 1024, "m.png"),
            prompt="merge them",
            size="auto",
            n=3,
        ),
    )
    parts = state.seen[-1]["parts"]
    assert parts.count("image[]") == 2 and parts.count("mask") == 1
    assert len(resp.data) == 3 and decoded(resp.data[0].b64_json).size == (1536, 1024)  # auto follows the input


async def test_mask_size_mismatch_is_bad_request(fake) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        await in_thread(
            fake[0],
            lambda c: c.images.edit(
                image=png_file(64, 64, "a.png"), mask=png_file(32, 32, "m.png"), prompt="x", model="gpt-image-1"
            ),
        )
    assert info.value.param == "mask"


async def test_models(fake) -> None:
    ids = await in_thread(fake[0], lambda c: [m.id for m in c.models.list()])
    assert "gpt-image-1" in ids
    with pytest.raises(openai.NotFoundError):
        await in_thread(fake[0], lambda c: c.models.retrieve("dall-e-9"))


async def test_validation_errors(fake) -> None:
    cases = [
        (dict(prompt="x", size="512x512"), "size", "invalid_value"),
        (dict(prompt="x", n=11), "n", "integer_above_max_value"),
        (dict(prompt="x", output_compression=101), "output_compression", "integer_above_max_value"),
        (dict(prompt="x", quality="ultra"), "quality", "invalid_value"),
        (dict(prompt="x", extra_body={"colour": "red"}), "colour", "unknown_parameter"),
        (dict(extra_body={"n": 1}), "prompt", "missing_required_parameter"),
    ]
    for kwargs, param, code in cases:
        call = {"model": "gpt-image-1", **kwargs}
        if "prompt" not in call:
            call["prompt"] = openai.omit
        with pytest.raises(openai.BadRequestError) as info:
            await in_thread(fake[0], lambda c, call=call: c.images.generate(**call))
        assert (info.value.param, info.value.code) == (param, code), kwargs
        if code == "unknown_parameter":
            assert info.value.body["message"] == "Unknown parameter: 'colour'."


async def test_error_classes(fake) -> None:
    running, state = fake

    def gen(c: openai.OpenAI) -> Any:
        return c.images.generate(model="gpt-image-1", prompt="x")

    with pytest.raises(openai.AuthenticationError) as auth:
        await in_thread(running, gen, key="sk-not-the-right-key-000000")
    assert auth.value.code == "invalid_api_key"
    state.injector.force("rate_limited")
    with pytest.raises(openai.RateLimitError) as limited:
        await in_thread(running, gen)
    assert limited.value.response.headers["retry-after-ms"] == "2000"
    state.injector.force("content_policy")
    with pytest.raises(openai.BadRequestError) as policy:
        await in_thread(running, gen)
    assert policy.value.code == "moderation_blocked"
    for fault in ("server_error", "unavailable"):
        state.injector.force(fault)
        with pytest.raises(openai.InternalServerError):
            await in_thread(running, gen)
    state.quota_exhausted = True
    with pytest.raises(openai.RateLimitError) as quota:
        await in_thread(running, gen)
    assert quota.value.code == "insufficient_quota"


@pytest.mark.parametrize("target", [2048, 1_500_000])
async def test_fixed_payload_mode_for_benchmarks(target: int) -> None:
    state = OpenAIFakeState(api_key=KEY)
    async with RunningFake(create_app(state, fixed_payload_bytes=target)) as running:
        resp = await in_thread(running, lambda c: c.images.generate(model="gpt-image-1", prompt="x", n=2))
        edit = await in_thread(running, lambda c: c.images.edit(image=png_file(8, 8, "a.png"), prompt="x"))
    raw = base64.b64decode(resp.data[0].b64_json)
    assert len(resp.data) == 2 and 0.9 * target <= len(raw) <= 1.1 * target + 200
    assert Image.open(io.BytesIO(raw)).format == "PNG" and len(edit.data) == 1
