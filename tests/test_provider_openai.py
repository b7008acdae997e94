"""The OpenAI adapter against the fake OpenAI Images API (imagegate.testing.fakes.openai)."""

from __future__ import annotations

import asyncio
import base64
import math
import time
from collections.abc import AsyncIterator

import pytest

from imagegate.catalog.schema import Offer
from imagegate.core.errors import (
    AuthFailed,
    BadResponse,
    ContentPolicy,
    ProviderInvalidRequest,
    RateLimited,
    Unavailable,
)
from imagegate.core.types import ImageRequest, InputImage, RenderSpec
from imagegate.media.sizes import map_size
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.openai import OpenAIProvider
from imagegate.providers.openai import map_size as openai_size
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.openai import OpenAIFakeState, create_app
from tests.helpers_providers import catalog_offer

KEY = "sk-test-openai-key-0123456789abcdef"
PROMPT = "a paper crane on a desk"


@pytest.fixture(scope="module")
def offer() -> Offer:
    return catalog_offer("openai", "gpt-image-1")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, OpenAIFakeState]]:
    state = OpenAIFakeState(api_key=KEY)
    async with RunningFake(create_app(state)) as running:
        yield running, state


def provider_for(running: RunningFake, key: str = KEY) -> OpenAIProvider:
    return OpenAIProvider(ProviderSettings(name="openai", api_key=key, base_url=running.url + "/v1"))


@pytest.fixture
async def openai(fake) -> AsyncIterator[OpenAIProvider]:
    provider = provider_for(fake[0])
    yield provider
    await provider.aclose()


def png(width: int, height: int, text: str = "in") -> InputImage:
    return InputImage(data=make_image(width, height, "png", text), mime_type="image/png", width=width, height=height)


def make_call(offer: Offer, *, op: str = "generate", n: int = 1, deadline_s: float = 30.0, **fields) -> ProviderCall:
    req = ImageRequest(operation=op, model="gpt-image-1", prompt=PROMPT, n=n, **fields)
    return ProviderCall(
        request=req, offer=offer, spec=map_size(req, offer.capabilities), n=n, deadline=time.monotonic() + deadline_s
    )


async def test_generate_defaults(openai, fake, offer) -> None:
    _, state = fake
    assert isinstance(openai, Provider)
    result = await openai.generate(make_call(offer))
    seen = state.seen[-1]
    assert seen["path"] == "/v1/images/generations" and seen["headers"]["Authorization"] == f"Bearer {KEY}"
    assert seen["raw"] == {"model": "gpt-image-1", "prompt": PROMPT, "n": 1, "size": "auto"}
    [img] = result.images
    assert img.mime_type == "image/png" and img.data is None
    assert base64.b64decode(img.b64).startswith(b"\x89PNG")
    assert (img.width, img.height) == (1024, 1024)
    usage = result.usage
    assert usage.reported and usage.output_image_tokens == 1056 and usage.output_images == 1
    assert usage.input_text_tokens == math.ceil(len(PROMPT) / 4) and usage.input_image_tokens == 0
    assert result.provider_request_id.startswith("req_") and result.ttfb_ms is not None


async def test_generate_size_quality_format_and_several_images(openai, fake, offer) -> None:
    call = make_call(
        offer,
        n=2,
        size="1536x1024",
        quality="high",
        output_format="jpg",
        output_compression=80,
        background="opaque",
        user="u-1",
        extra={"moderation": "low", "unknown_to_openai": 1},
    )
    result = await openai.generate(call)
    assert fake[1].seen[-1]["raw"] == {
        "model": "gpt-image-1",
        "prompt": PROMPT,
        "n": 2,
        "size": "1536x1024",
        "quality": "high",
        "output_format": "jpeg",
        "output_compression": 80,
        "background": "opaque",
        "user": "u-1",
        "moderation": "low",
    }
    assert len(result.images) == 2 and {i.mime_type for i in result.images} == {"image/jpeg"}
    assert {(i.width, i.height) for i in result.images} == {(1536, 1024)}
    assert base64.b64decode(result.images[0].b64).startswith(b"\xff\xd8\xff")
    assert result.usage.output_image_tokens == 6240 * 2


async def test_edit_with_one_image_sends_image(openai, fake, offer) -> None:
    result = await openai.generate(make_call(offer, op="edit", images=[png(1024, 1024)]))
    seen = fake[1].seen[-1]
    assert seen["path"] == "/v1/images/edits" and seen["content_type"] == "multipart/form-data"
    assert seen["parts"].count("image") == 1 and "image[]" not in seen["parts"]
    assert result.usage.input_image_tokens == 765 and result.usage.input_images == 1


async def test_edit_with_several_images_and_a_mask(openai, fake, offer) -> None:
    images = [png(1536, 1024, "a"), png(512, 512, "b")]
    result = await openai.generate(
        make_call(
            offer,
            op="edit",
            images=images,
            mask=png(1536, 1024, "m"),
            extra={"input_fidelity": "high", "moderation": "low"},
        )
    )
    seen = fake[1].seen[-1]
    assert seen["parts"].count("image[]") == 2 and seen["parts"].count("mask") == 1
    assert seen["raw"]["input_fidelity"] == "high" and "moderation" not in seen["raw"]  # edits have no moderation
    assert seen["raw"]["n"] == "1" and seen["raw"]["size"] == "auto"
    assert result.usage.input_images == 2 and result.usage.input_image_tokens > 765


async def test_mask_of_another_size_is_invalid(openai, fake, offer) -> None:
    with pytest.raises(ProviderInvalidRequest) as info:
        await openai.generate(make_call(offer, op="edit", images=[png(64, 64)], mask=png(32, 32)))
    assert info.value.status == 400 and not info.value.retryable


async def test_too_many_images_per_call_is_refused_locally(openai, fake, offer) -> None:
    with pytest.raises(ProviderInvalidRequest):
        await openai.generate(make_call(offer, n=11))
    assert fake[1].seen == []


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        ("rate_limited", RateLimited, True),
        ("server_error", Unavailable, True),
        ("unavailable", Unavailable, True),
        ("content_policy", ContentPolicy, False),
        ("malformed", BadResponse, True),
        ("reset", Unavailable, True),
    ],
)
async def test_faults_map_to_typed_errors(openai, fake, offer, fault, error, retryable) -> None:
    fake[1].injector.force(fault)
    with pytest.raises(error) as info:
        await openai.generate(make_call(offer))
    assert info.value.retryable is retryable and info.value.provider == "openai"
    assert KEY not in str(info.value)
    if fault == "rate_limited":
        assert info.value.retry_after == 2.0  # from retry-after-ms
    if fault == "content_policy":
        assert info.value.reason == "moderation_blocked"


async def test_no_answer_times_out(openai, fake, offer) -> None:
    fake[1].injector.force("timeout")
    with pytest.raises(TimeoutError):  # the router's limit, not a timer of the adapter's
        await asyncio.wait_for(openai.generate(make_call(offer, deadline_s=0.3)), 0.3)


async def test_wrong_key_is_auth_failed_without_the_key(fake, offer) -> None:
    wrong = "sk-wrong-openai-key-0123456789"
    provider = provider_for(fake[0], key=wrong)
    try:
        with pytest.raises(AuthFailed) as info:
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert wrong not in str(info.value) and info.value.reason == "invalid_api_key"


async def test_insufficient_quota_is_not_a_transient_rate_limit(openai, fake, offer) -> None:
    fake[1].quota_exhausted = True
    with pytest.raises(AuthFailed) as info:
        await openai.generate(make_call(offer))
    assert info.value.status == 429 and info.value.reason == "insufficient_quota"


async def test_invalid_parameter_is_provider_invalid_request(openai, fake, offer) -> None:
    with pytest.raises(ProviderInvalidRequest) as info:
        await openai.generate(make_call(offer, extra={"moderation": "strict"}))
    assert info.value.reason == "invalid_value" and "strict" in info.value.message


def test_size_mapping() -> None:
    sizes = ("1024x1024", "1536x1024", "1024x1536", "auto")
    assert openai_size(RenderSpec(None, None, 1024, 1024), sizes) == "auto"
    assert openai_size(RenderSpec("3:2", "1K", 1536, 1024, exact_size=True), sizes) == "1536x1024"
    assert openai_size(RenderSpec("2:3", "1K", 1024, 1536), sizes) == "1024x1536"
    assert openai_size(RenderSpec("16:9", "2K", 2048, 1152), sizes) == "auto"
    assert openai_size(RenderSpec("1:1", "1K", 1024, 1024), ()) is None
