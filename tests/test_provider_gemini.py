"""The Gemini API adapter against the Google fake (loopback), and the shared response mapping."""

from __future__ import annotations

import asyncio
import base64
import io
import math
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from imagegate.core.errors import (
    AuthFailed,
    BadResponse,
    ContentPolicy,
    ProviderInvalidRequest,
    RateLimited,
    Timeout,
    Unavailable,
)
from imagegate.core.types import ImageRequest, InputImage, RenderSpec, Usage
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.gemini import GeminiProvider
from imagegate.providers.google_common import MASK_INSTRUCTION, parse_response, raise_for_status, usage_from
from imagegate.providers.http import UpstreamResponse
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app
from imagegate.testing.fakes.gemini.responses import THOUGHT_TEXT
from tests.helpers_providers import catalog_offer

KEY = "AIzaTestKeyThatMustNeverLeak0123456789"
PROMPT = "a capybara reading a newspaper"


@pytest.fixture(scope="module")
def offer():
    return catalog_offer("gemini")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, GoogleFakeState]]:
    state = GoogleFakeState(api_key=KEY)
    async with RunningFake(create_app(state)) as running:
        yield running, state


@pytest.fixture
async def gemini(fake) -> AsyncIterator[GeminiProvider]:
    provider = GeminiProvider(ProviderSettings(name="gemini", api_key=KEY, base_url=fake[0].url, total_timeout_s=30))
    yield provider
    await provider.aclose()


def png_input(w: int = 64, h: int = 48, text: str = "in") -> InputImage:
    return InputImage(data=make_image(w, h, "png", text), mime_type="image/png", width=w, height=h)


def make_call(
    offer,
    *,
    images=None,
    mask=None,
    aspect: str | None = "16:9",
    resolution: str | None = "1K",
    seed=None,
    extra=None,
    timeout_s: float = 30.0,
) -> ProviderCall:
    request = ImageRequest(
        operation="edit" if images else "generate",
        model="gemini-3-pro-image-preview",
        prompt=PROMPT,
        images=images or [],
        mask=mask,
        seed=seed,
        extra=extra or {},
    )
    spec = RenderSpec(aspect_ratio=aspect, resolution=resolution, width=1376, height=768)
    return ProviderCall(request=request, offer=offer, spec=spec, n=1, deadline=time.monotonic() + timeout_s)


def tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


async def test_text_to_image(gemini, fake, offer) -> None:
    assert isinstance(gemini, Provider)
    result = await gemini.generate(make_call(offer, seed=7))
    assert len(result.images) == 1  # the thought image is not an output
    image = result.images[0]
    assert image.mime_type == "image/png" and image.data is None and (image.width, image.height) == (1376, 768)
    with Image.open(io.BytesIO(base64.b64decode(image.b64))) as img:
        assert img.size == (1376, 768)
    assert result.text == f"Here is the image you asked for: {PROMPT}"
    assert THOUGHT_TEXT not in (result.text or "")
    assert result.provider_request_id and result.ttfb_ms is not None and result.ttfb_ms > 0
    call = fake[1].calls("gemini")[-1]
    assert call["path"] == "/v1beta/models/gemini-3-pro-image-preview:generateContent" and call["query"] == {}
    assert call["body"]["generationConfig"] == {
        "responseModalities": ["TEXT", "IMAGE"],
        "seed": 7,
        "imageConfig": {"aspectRatio": "16:9", "imageSize": "1K"},
    }
    assert call["body"]["contents"] == [{"role": "user", "parts": [{"text": PROMPT}]}]


async def test_usage_is_exact(gemini, offer) -> None:
    result = await gemini.generate(make_call(offer))
    text_out = tokens(f"Here is the image you asked for: {PROMPT}")
    thoughts = 120 + len(PROMPT) % 97
    assert result.usage == Usage(
        input_text_tokens=tokens(PROMPT),
        input_image_tokens=0,
        cached_input_tokens=0,
        output_text_tokens=text_out + thoughts,
        output_image_tokens=1120,
        thoughts_tokens=thoughts,
        input_images=0,
        output_images=1,
        reported=True,
    )


async def test_edit_sends_every_image_and_the_mask(gemini, fake, offer) -> None:
    images = [png_input(text="a"), png_input(text="b"), png_input(text="c")]
    mask = png_input(text="mask")
    result = await gemini.generate(make_call(offer, images=images, mask=mask, aspect=None, resolution=None))
    parts = fake[1].calls("gemini")[-1]["body"]["contents"][0]["parts"]
    inline = [p["inlineData"] for p in parts if "inlineData" in p]
    assert [base64.b64decode(p["data"]) for p in inline] == [img.data for img in images] + [mask.data]
    assert parts[0] == {"text": PROMPT} and parts[-2] == {"text": MASK_INSTRUCTION}
    assert "imageConfig" not in fake[1].calls("gemini")[-1]["body"]["generationConfig"]  # None = omit
    assert result.usage.input_image_tokens == 4 * 560 and result.usage.input_images == 4
    assert (result.images[0].width, result.images[0].height) == (1024, 1024)  # the fake's default 1:1 1K


async def test_extras_pass_through_and_unknown_ones_stay_home(gemini, fake, offer) -> None:
    extra = {
        "temperature": 0.4,
        "topP": 0.9,
        "safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
        "system_instruction": "be brief",
        "labels": {"team": "x"},
        "quality": "hd",
    }
    await gemini.generate(make_call(offer, extra=extra))
    body = fake[1].calls("gemini")[-1]["body"]
    assert body["generationConfig"]["temperature"] == 0.4 and body["generationConfig"]["topP"] == 0.9
    assert body["safetySettings"][0]["threshold"] == "BLOCK_ONLY_HIGH"
    assert body["systemInstruction"] == {"parts": [{"text": "be brief"}]}
    assert "labels" not in body and "quality" not in str(body)  # labels are Vertex-only


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("rate_limited", RateLimited, 429),
        ("server_error", Unavailable, 500),
        ("unavailable", Unavailable, 503),
        ("malformed", BadResponse, 200),
        ("reset", Unavailable, None),
    ],
)
async def test_faults_become_typed_errors(gemini, fake, offer, fault, error, status) -> None:
    fake[1].injector.force(fault)
    with pytest.raises(error) as info:
        await gemini.generate(make_call(offer))
    assert info.value.provider == "gemini" and info.value.status == status
    assert KEY not in str(info.value) and KEY not in repr(info.value.args)
    if fault == "rate_limited":
        assert info.value.retry_after == 2.0  # from the RetryInfo detail


async def test_never_answering_ends_when_the_router_cancels_it(gemini, fake, offer) -> None:
    fake[1].injector.force("timeout")
    with pytest.raises(TimeoutError):  # the router's limit, not a timer of the adapter's
        await asyncio.wait_for(gemini.generate(make_call(offer, timeout_s=0.3)), 0.3)


async def test_total_timeout_from_settings(fake, offer) -> None:
    provider = GeminiProvider(ProviderSettings(name="gemini", api_key=KEY, base_url=fake[0].url, total_timeout_s=0.3))
    fake[1].injector.force("timeout")
    try:
        with pytest.raises(Timeout):
            await provider.generate(make_call(offer, timeout_s=30))
    finally:
        await provider.aclose()


@pytest.mark.parametrize("via_prompt_feedback", [False, True])
async def test_content_policy_carries_the_reason(gemini, fake, offer, via_prompt_feedback) -> None:
    fake[1].block_via_prompt_feedback = via_prompt_feedback
    fake[1].block_reason = "PROHIBITED_CONTENT" if via_prompt_feedback else "IMAGE_SAFETY"
    fake[1].injector.force("content_policy")
    with pytest.raises(ContentPolicy) as info:
        await gemini.generate(make_call(offer))
    assert info.value.reason == fake[1].block_reason and fake[1].block_reason in info.value.message
    assert info.value.retryable is False


async def test_auth_and_request_errors(fake, offer) -> None:
    wrong = "AIzaWrongKeyThatMustNeverLeak000000000"
    for key in (wrong, ""):
        provider = GeminiProvider(ProviderSettings(name="gemini", api_key=key, base_url=fake[0].url))
        with pytest.raises(AuthFailed) as info:
            await provider.generate(make_call(offer))
        assert info.value.status == (400 if key else 403)
        assert (wrong not in str(info.value)) and (wrong not in repr(info.value.args))
        await provider.aclose()
    provider = GeminiProvider(ProviderSettings(name="gemini", api_key=KEY, base_url=fake[0].url))
    with pytest.raises(ProviderInvalidRequest) as info:
        await provider.generate(make_call(offer, aspect="7:3"))
    assert info.value.status == 400 and "aspect ratio" in info.value.message
    await provider.aclose()


def test_parse_response_skips_thoughts_and_maps_usage() -> None:
    data = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "thinking...", "thought": True},
                        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}, "thought": True},
                        {"text": "A revised prompt"},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}, "thoughtSignature": "c2ln"},
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 707,
            "candidatesTokenCount": 1139,
            "totalTokenCount": 2061,
            "thoughtsTokenCount": 215,
            "cachedContentTokenCount": 100,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 147}, {"modality": "IMAGE", "tokenCount": 560}],
            "candidatesTokensDetails": [{"modality": "IMAGE", "tokenCount": 1120}],
        },
        "responseId": "r1",
    }
    result = parse_response(data, "gemini", input_images=1)
    assert [(i.mime_type, i.b64) for i in result.images] == [("image/jpeg", "/9j/4AAQ")]
    assert result.text == "A revised prompt" and result.provider_request_id == "r1"
    assert result.usage == Usage(
        input_text_tokens=147,
        input_image_tokens=560,
        cached_input_tokens=100,
        output_text_tokens=19 + 215,
        output_image_tokens=1120,
        thoughts_tokens=215,
        input_images=1,
        output_images=1,
        reported=True,
    )


def test_usage_without_details() -> None:
    usage = usage_from({"promptTokenCount": 10, "candidatesTokenCount": 1290}, input_images=0, output_images=1)
    assert (usage.input_text_tokens, usage.output_image_tokens, usage.output_text_tokens) == (10, 1290, 0)
    assert usage_from(None, input_images=2, output_images=1) == Usage(input_images=2, output_images=1)


@pytest.mark.parametrize("finish", ["STOP", "MAX_TOKENS", None])
def test_no_image_without_a_block_reason_is_a_bad_response(finish) -> None:
    data = {"candidates": [{"content": {"parts": [{"text": "sorry"}]}, **({"finishReason": finish} if finish else {})}]}
    with pytest.raises(BadResponse):
        parse_response(data, "gemini", input_images=0)


@pytest.mark.parametrize("reason", ["SAFETY", "NO_IMAGE", "IMAGE_OTHER", "RECITATION", "SPII", "BLOCKLIST"])
def test_block_finish_reasons_are_content_policy(reason) -> None:
    with pytest.raises(ContentPolicy) as info:
        parse_response({"candidates": [{"finishReason": reason}]}, "gemini", input_images=0)
    assert info.value.reason == reason


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "retry_after"),
    [
        (408, b'{"error":{"code":408,"message":"Request Timeout","status":"DEADLINE_EXCEEDED"}}', {}, Timeout, None),
        (502, b"<html>Bad Gateway</html>", {}, Unavailable, None),
        (504, b'{"error":{"code":504,"message":"Deadline","status":"DEADLINE_EXCEEDED"}}', {}, Unavailable, None),
        (
            429,
            b'{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}',
            {"Retry-After": "7"},
            RateLimited,
            7.0,
        ),
        (
            429,
            b'{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":'
            b'"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"41.5s"}]}}',
            {},
            RateLimited,
            41.5,
        ),
        (401, b'{"error":{"code":401,"status":"UNAUTHENTICATED"}}', {}, AuthFailed, None),
        (403, b'{"error":{"code":403,"status":"PERMISSION_DENIED"}}', {}, AuthFailed, None),
        (404, b'{"error":{"code":404,"status":"NOT_FOUND"}}', {}, ProviderInvalidRequest, None),
        (
            400,
            b'{"error":{"code":400,"status":"FAILED_PRECONDITION","message":"User location is not supported"}}',
            {},
            ProviderInvalidRequest,
            None,
        ),
    ],
)
def test_status_mapping(status, body, headers, error, retry_after) -> None:
    with pytest.raises(error) as info:
        raise_for_status(UpstreamResponse(status, headers, body, 1.0, 2.0), "gemini")
    assert info.value.status == status and info.value.retry_after == retry_after
