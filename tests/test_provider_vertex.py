"""The Vertex AI adapter against the Google fake: OAuth via a service-account key, token caching and refresh."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from imagegate.core.errors import AuthFailed, BadResponse, ContentPolicy, RateLimited, Unavailable
from imagegate.core.types import ImageRequest, InputImage, RenderSpec
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.vertex import ServiceAccountTokens, VertexProvider, default_base_url
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app, new_service_account, public_key_pem
from tests.helpers_providers import catalog_offer

PROJECT = "fake-project"
MODEL = "gemini-3-pro-image-preview"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def offer():
    return catalog_offer("vertex", MODEL)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, GoogleFakeState]]:
    state = GoogleFakeState(project=PROJECT)
    async with RunningFake(create_app(state)) as running:
        yield running, state


@pytest.fixture
def key_file(fake, tmp_path: Path) -> Path:
    info = new_service_account(f"{fake[0].url}/token", project_id=PROJECT)
    fake[1].service_accounts[info["client_email"]] = public_key_pem(info["private_key"])
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    return path


def make_settings(fake, key_file: Path, **kw) -> ProviderSettings:
    kw.setdefault("total_timeout_s", 30)
    return ProviderSettings(name="vertex", credentials_file=str(key_file), base_url=fake[0].url, **kw)


@pytest.fixture
async def vertex(fake, key_file) -> AsyncIterator[VertexProvider]:
    provider = VertexProvider(make_settings(fake, key_file))
    yield provider
    await provider.aclose()


def make_call(offer, *, images=None, output_format=None, compression=None, timeout_s: float = 30.0) -> ProviderCall:
    request = ImageRequest(
        operation="edit" if images else "generate",
        model=MODEL,
        prompt="a lighthouse at dusk",
        images=images or [],
        output_format=output_format,
        output_compression=compression,
    )
    spec = RenderSpec(aspect_ratio="3:2", resolution="2K", width=2528, height=1696)
    return ProviderCall(request=request, offer=offer, spec=spec, n=1, deadline=time.monotonic() + timeout_s)


def assert_no_secret(exc: Exception, fake_state: GoogleFakeState) -> None:
    text = f"{exc} {exc!r} {getattr(exc, 'message', '')}"
    assert all(token not in text for token in fake_state.tokens)
    assert "ya29." not in text and "PRIVATE KEY" not in text


async def test_text_to_image(vertex, fake, offer) -> None:
    assert isinstance(vertex, Provider)
    result = await vertex.generate(make_call(offer))
    image = result.images[0]
    assert len(result.images) == 1 and image.mime_type == "image/png" and (image.width, image.height) == (2528, 1696)
    assert result.text and result.usage.output_image_tokens == 1120 and result.usage.reported
    call = fake[1].calls("vertex")[-1]
    assert call["path"] == f"/v1/projects/{PROJECT}/locations/global/publishers/google/models/{MODEL}:generateContent"
    assert call["body"]["contents"][0]["role"] == "user"
    assert call["body"]["generationConfig"]["imageConfig"] == {"aspectRatio": "3:2", "imageSize": "2K"}


async def test_edit_and_jpeg_output(vertex, fake, offer) -> None:
    images = [
        InputImage(data=make_image(32, 32, "png", str(i)), mime_type="image/png", width=32, height=32) for i in range(3)
    ]
    result = await vertex.generate(make_call(offer, images=images, output_format="jpeg", compression=80))
    body = fake[1].calls("vertex")[-1]["body"]
    assert [base64.b64decode(p["inlineData"]["data"]) for p in body["contents"][0]["parts"][1:]] == [
        i.data for i in images
    ]
    assert body["generationConfig"]["imageConfig"]["imageOutputOptions"] == {
        "mimeType": "image/jpeg",
        "compressionQuality": 80,
    }
    assert result.images[0].mime_type == "image/jpeg" and base64.b64decode(result.images[0].b64)[:3] == b"\xff\xd8\xff"
    assert result.usage.input_image_tokens == 3 * 560 and result.usage.input_images == 3


async def test_project_from_settings_wins_over_the_key(fake, key_file, offer) -> None:
    provider = VertexProvider(make_settings(fake, key_file, project="other-project", location="us-central1"))
    try:
        with pytest.raises(AuthFailed) as info:  # the fake only knows fake-project: 403 PERMISSION_DENIED
            await provider.generate(make_call(offer))
        assert info.value.status == 403
        assert "/projects/other-project/locations/us-central1/" in await provider.url(MODEL)
    finally:
        await provider.aclose()


async def test_concurrent_calls_fetch_one_token(vertex, fake, offer) -> None:
    results = await asyncio.gather(*(vertex.generate(make_call(offer)) for _ in range(6)))
    assert len(results) == 6 and fake[1].token_requests == 1 and vertex.tokens.refreshes == 1


async def test_token_is_refreshed_before_expiry(fake, key_file, offer) -> None:
    clock = Clock()
    tokens = ServiceAccountTokens(str(key_file), clock=clock)
    provider = VertexProvider(make_settings(fake, key_file), tokens=tokens)
    try:
        await provider.generate(make_call(offer))
        clock.now += 3600 - 300 - 10  # still outside the 5-minute margin
        await provider.generate(make_call(offer))
        assert fake[1].token_requests == 1
        clock.now += 20  # inside the margin: refresh first
        await provider.generate(make_call(offer))
        assert fake[1].token_requests == 2 and tokens.refreshes == 2
    finally:
        await provider.aclose()


async def test_401_refreshes_once_and_retries(vertex, fake, offer) -> None:
    await vertex.generate(make_call(offer))
    fake[1].revoke_tokens()
    result = await vertex.generate(make_call(offer))
    assert result.images and fake[1].token_requests == 2


async def test_401_again_after_the_refresh_is_auth_failed(vertex, fake, offer) -> None:
    fake[1].token_lifetime_s = 0  # every token the fake issues is already expired
    with pytest.raises(AuthFailed) as info:
        await vertex.generate(make_call(offer))
    assert info.value.status == 401 and fake[1].token_requests == 2
    assert_no_secret(info.value, fake[1])


async def test_unknown_key_and_missing_file_are_auth_failed(fake, key_file, offer, tmp_path) -> None:
    fake[1].service_accounts.clear()
    for path in (key_file, tmp_path / "missing.json"):
        provider = VertexProvider(make_settings(fake, path, project=PROJECT))
        with pytest.raises(AuthFailed) as info:
            await provider.generate(make_call(offer))
        assert "PRIVATE KEY" not in str(info.value)
        await provider.aclose()


async def test_token_endpoint_down_is_unavailable(fake, tmp_path, offer) -> None:
    info = new_service_account("http://127.0.0.1:9/token", project_id=PROJECT)  # discard port: refused
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    provider = VertexProvider(make_settings(fake, path))
    try:
        with pytest.raises(Unavailable):
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("rate_limited", RateLimited),
        ("server_error", Unavailable),
        ("unavailable", Unavailable),
        ("malformed", BadResponse),
        ("reset", Unavailable),
        ("content_policy", ContentPolicy),
    ],
)
async def test_faults_become_typed_errors(vertex, fake, offer, fault, error) -> None:
    fake[1].injector.force(fault)
    with pytest.raises(error) as info:
        await vertex.generate(make_call(offer))
    assert info.value.provider == "vertex"
    assert_no_secret(info.value, fake[1])
    if fault == "rate_limited":
        assert info.value.retry_after == 2.0
    if fault == "content_policy":
        assert info.value.reason == "IMAGE_SAFETY"


async def test_never_answering_times_out(vertex, fake, offer) -> None:
    await vertex.generate(make_call(offer))  # token first, so the deadline covers only the call
    fake[1].injector.force("timeout")
    with pytest.raises(TimeoutError):  # the router's limit, not a timer of the adapter's
        await asyncio.wait_for(vertex.generate(make_call(offer, timeout_s=0.3)), 0.3)


def test_default_base_url() -> None:
    assert default_base_url("global") == "https://aiplatform.googleapis.com"
    assert default_base_url("europe-west4") == "https://europe-west4-aiplatform.googleapis.com"
