"""Imagen 4 (``:predict``) through the Gemini and Vertex adapters against the Google fake, and the fake against
google-genai's ``models.generate_images`` (Vertex mode: the SDK offers that method in Vertex mode only)."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account
from PIL import Image

from imagegate.catalog import load_catalog
from imagegate.core.errors import ContentPolicy
from imagegate.core.types import ImageRequest
from imagegate.media.sizes import map_size
from imagegate.providers.base import ProviderCall
from imagegate.providers.gemini import GeminiProvider
from imagegate.providers.vertex import VertexProvider
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app, new_service_account, public_key_pem

KEY = "AIza-imagen-test-key"
PROJECT = "imagen-project"


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, GoogleFakeState]]:
    state = GoogleFakeState(api_key=KEY, project=PROJECT)
    async with RunningFake(create_app(state)) as running:
        yield running, state


@pytest.fixture
def sa_info(fake) -> dict:
    info = new_service_account(f"{fake[0].url}/token", project_id=PROJECT)
    fake[1].service_accounts[info["client_email"]] = public_key_pem(info["private_key"])
    return info


def offer(model_id: str, provider: str):
    found = load_catalog().get(model_id).offer(provider)
    assert found is not None and found.options.get("api") == "predict"
    return found


def call(o, **fields) -> ProviderCall:
    n = fields.pop("n", 1)
    req = ImageRequest(operation="generate", model=o.provider_model_id, prompt="a lighthouse at dusk", n=n, **fields)
    return ProviderCall(request=req, offer=o, spec=map_size(req, o.capabilities), n=n, deadline=time.monotonic() + 30)


def size(img) -> tuple[int, int]:
    import base64

    with Image.open(io.BytesIO(base64.b64decode(img.b64))) as pic:
        return pic.size


async def test_gemini_adapter_sends_predict(fake) -> None:
    provider = GeminiProvider(ProviderSettings(name="gemini", api_key=KEY, base_url=fake[0].url))
    try:
        o = offer("imagen-4.0-generate-001", "gemini")
        result = await provider.generate(call(o, n=2, aspect_ratio="16:9", resolution="2K", seed=7))
    finally:
        await provider.aclose()
    seen = fake[1].seen[-1]
    assert seen["path"] == "/v1beta/models/imagen-4.0-generate-001:predict"
    # the Gemini API takes no seed: not sent
    assert seen["body"] == {
        "instances": [{"prompt": "a lighthouse at dusk"}],
        "parameters": {"sampleCount": 2, "aspectRatio": "16:9", "sampleImageSize": "2K"},
    }
    assert len(result.images) == 2 and result.usage.output_images == 2
    assert {size(i) for i in result.images} == {(result.images[0].width, result.images[0].height)}
    assert result.images[0].width > result.images[0].height


async def test_vertex_adapter_sends_predict_with_seed_and_jpeg(fake, sa_info, tmp_path: Path) -> None:
    key_file = tmp_path / "sa.json"
    key_file.write_text(json.dumps(sa_info))
    provider = VertexProvider(ProviderSettings(name="vertex", credentials_file=str(key_file), base_url=fake[0].url))
    try:
        o = offer("imagen-4.0-fast-generate-001", "vertex")
        result = await provider.generate(call(o, aspect_ratio="9:16", seed=3, output_format="jpeg"))
    finally:
        await provider.aclose()
    seen = fake[1].seen[-1]
    assert seen["path"].endswith("/publishers/google/models/imagen-4.0-fast-generate-001:predict")
    assert seen["body"] == {
        "instances": [{"prompt": "a lighthouse at dusk"}],
        "parameters": {
            "sampleCount": 1,
            "aspectRatio": "9:16",
            "seed": 3,
            "addWatermark": False,
            "outputOptions": {"mimeType": "image/jpeg"},
        },
    }
    assert result.images[0].mime_type == "image/jpeg"


async def test_filtered_prediction_is_a_content_policy_refusal(fake) -> None:
    fake[1].injector.force("content_policy")
    provider = GeminiProvider(ProviderSettings(name="gemini", api_key=KEY, base_url=fake[0].url))
    try:
        with pytest.raises(ContentPolicy):
            await provider.generate(call(offer("imagen-4.0-ultra-generate-001", "gemini")))
    finally:
        await provider.aclose()


async def test_google_genai_generate_images_against_the_fake(fake, sa_info) -> None:
    creds = service_account.Credentials.from_service_account_info(
        sa_info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location="global",
        credentials=creds,
        http_options=types.HttpOptions(base_url=fake[0].url),
    )
    response = await client.aio.models.generate_images(
        model="imagen-4.0-generate-001",
        prompt="a red fox",
        config=types.GenerateImagesConfig(number_of_images=2, aspect_ratio="4:3", image_size="2K"),
    )
    assert len(response.generated_images) == 2
    with Image.open(io.BytesIO(response.generated_images[0].image.image_bytes)) as img:
        assert img.width > img.height and img.width > 1500
    with pytest.raises(errors.ClientError) as info:  # Ultra makes one image per call
        await client.aio.models.generate_images(
            model="imagen-4.0-ultra-generate-001",
            prompt="a red fox",
            config=types.GenerateImagesConfig(number_of_images=3),
        )
    assert info.value.code == 400
