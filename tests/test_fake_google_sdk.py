"""Faithfulness of the Google fake: the official google-genai SDK, in Gemini API and Vertex AI modes, against it."""

from __future__ import annotations

import base64
import io

import aiohttp
import pytest
from google import genai
from google.genai import errors, types
from google.oauth2 import service_account
from PIL import Image

from imagegate.testing.fakes.common import RunningFake
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app, new_service_account, public_key_pem

MODEL = "gemini-3-pro-image-preview"
PROJECT = "fake-project"
CONFIG = types.GenerateContentConfig(
    response_modalities=["TEXT", "IMAGE"], image_config=types.ImageConfig(aspect_ratio="16:9", image_size="2K")
)


@pytest.fixture
async def fake():
    state = GoogleFakeState()
    async with RunningFake(create_app(state)) as running:
        running.state = state
        yield running


@pytest.fixture
def gemini_client(fake) -> genai.Client:
    return genai.Client(api_key=fake.state.api_key, http_options=types.HttpOptions(base_url=fake.url))


@pytest.fixture
def vertex_client(fake) -> genai.Client:
    info = new_service_account(f"{fake.url}/token", project_id=PROJECT)
    fake.state.service_accounts[info["client_email"]] = public_key_pem(info["private_key"])
    creds = service_account.Credentials.from_service_account_info(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location="global",
        credentials=creds,
        http_options=types.HttpOptions(base_url=fake.url),
    )


def _output(response: types.GenerateContentResponse) -> tuple[list[types.Part], list[types.Part]]:
    parts = response.candidates[0].content.parts
    return [p for p in parts if not p.thought], [p for p in parts if p.thought]


def _image_size(part: types.Part) -> tuple[int, int]:
    with Image.open(io.BytesIO(part.inline_data.data)) as img:
        return img.size


async def test_gemini_api_text_to_image(fake, gemini_client):
    response = await gemini_client.aio.models.generate_content(model=MODEL, contents="a red fox", config=CONFIG)
    output, thoughts = _output(response)
    images = [p for p in output if p.inline_data]
    assert len(images) == 1 and images[0].inline_data.mime_type == "image/png"
    assert _image_size(images[0]) == (2752, 1536)  # 16:9 at 2K
    assert images[0].thought_signature  # bytes, decoded by the SDK from base64
    assert any(p.text for p in output) and thoughts and all(p.thought for p in thoughts)
    usage = response.usage_metadata
    assert usage.candidates_tokens_details[-1].modality == types.MediaModality.IMAGE
    assert usage.candidates_tokens_details[-1].token_count == 1120
    assert usage.thoughts_token_count > 0 and usage.prompt_token_count > 0
    assert response.model_version == MODEL and response.response_id
    call = fake.state.calls("gemini")[-1]
    assert call["path"] == f"/v1/models/{MODEL}:generateContent"  # the SDK's default version with a custom base URL
    assert call["request"]["generationConfig"]["imageConfig"] == {"aspectRatio": "16:9", "imageSize": "2K"}


async def test_gemini_api_edit_sends_inline_images(fake, gemini_client):
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
    )
    contents = [
        "make it blue",
        types.Part.from_bytes(data=png, mime_type="image/png"),
        types.Part.from_bytes(data=png, mime_type="image/png"),
    ]
    response = await gemini_client.aio.models.generate_content(model=MODEL, contents=contents, config=CONFIG)
    details = {d.modality: d.token_count for d in response.usage_metadata.prompt_tokens_details}
    assert details[types.MediaModality.IMAGE] == 2 * 560
    parts = fake.state.calls("gemini")[-1]["request"]["contents"][0]["parts"]
    assert [p["inlineData"]["mimeType"] for p in parts if "inlineData" in p] == ["image/png", "image/png"]


async def test_gemini_api_stream(gemini_client):
    chunks = [
        c
        async for c in await gemini_client.aio.models.generate_content_stream(
            model=MODEL, contents="a lighthouse", config=CONFIG
        )
    ]
    assert len(chunks) >= 2
    images = [p for c in chunks for p in c.candidates[0].content.parts if p.inline_data and not p.thought]
    assert len(images) == 1 and _image_size(images[0]) == (2752, 1536)
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count >= 1120


async def test_gemini_api_4k_and_flash(gemini_client):
    cfg = types.GenerateContentConfig(
        response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="1:1", image_size="4K")
    )
    response = await gemini_client.aio.models.generate_content(model=MODEL, contents="a square", config=cfg)
    image = next(p for p in response.candidates[0].content.parts if p.inline_data and not p.thought)
    assert _image_size(image) == (4096, 4096)
    image_tokens = {d.modality: d.token_count for d in response.usage_metadata.candidates_tokens_details}
    assert image_tokens[types.MediaModality.IMAGE] == 2000
    flash = await gemini_client.aio.models.generate_content(model="gemini-2.5-flash-image", contents="a dot")
    assert not any(p.thought for p in flash.candidates[0].content.parts)
    assert flash.usage_metadata.candidates_tokens_details[-1].token_count == 1290


@pytest.mark.parametrize(
    ("fault", "error", "code", "status"),
    [
        ("rate_limited", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
        ("server_error", errors.ServerError, 500, "INTERNAL"),
        ("unavailable", errors.ServerError, 503, "UNAVAILABLE"),
    ],
)
async def test_gemini_api_faults_as_sdk_errors(fake, gemini_client, fault, error, code, status):
    fake.state.injector.force(fault)
    with pytest.raises(error) as info:
        await gemini_client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)
    assert info.value.code == code and info.value.status == status
    if fault == "rate_limited":
        assert any(d.get("retryDelay") == "2s" for d in info.value.details["error"]["details"])


async def test_gemini_api_content_policy_is_a_finish_reason(fake, gemini_client):
    fake.state.injector.force("content_policy")
    response = await gemini_client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)
    assert response.candidates[0].finish_reason == types.FinishReason.IMAGE_SAFETY
    assert response.candidates[0].content is None
    fake.state.block_via_prompt_feedback = True
    fake.state.block_reason = "PROHIBITED_CONTENT"
    fake.state.injector.force("content_policy")
    response = await gemini_client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)
    assert not response.candidates
    assert response.prompt_feedback.block_reason == types.BlockedReason.PROHIBITED_CONTENT


async def test_gemini_api_auth_and_validation_errors(fake):
    bad = genai.Client(
        api_key="AIza-wrong-key-000000000000000000000", http_options=types.HttpOptions(base_url=fake.url)
    )
    with pytest.raises(errors.ClientError) as info:
        await bad.aio.models.generate_content(model=MODEL, contents="x")
    assert info.value.code == 400 and "API_KEY_INVALID" in str(info.value.details)
    good = genai.Client(api_key=fake.state.api_key, http_options=types.HttpOptions(base_url=fake.url))
    with pytest.raises(errors.ClientError) as info:
        await good.aio.models.generate_content(model="gemini-9-ultra", contents="x")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"
    cfg = types.GenerateContentConfig(image_config=types.ImageConfig(aspect_ratio="7:3"))
    with pytest.raises(errors.ClientError) as info:
        await good.aio.models.generate_content(model=MODEL, contents="x", config=cfg)
    assert info.value.code == 400 and info.value.status == "INVALID_ARGUMENT"
    cfg = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True))  # snake_case
    assert (await good.aio.models.generate_content(model=MODEL, contents="x", config=cfg)).candidates


async def test_vertex_text_to_image_with_oauth(fake, vertex_client):
    response = await vertex_client.aio.models.generate_content(model=MODEL, contents="a red fox", config=CONFIG)
    output, _ = _output(response)
    image = next(p for p in output if p.inline_data)
    assert _image_size(image) == (2752, 1536)
    assert response.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert response.create_time is not None
    call = fake.state.calls("vertex")[-1]
    assert call["path"] == (
        f"/v1beta1/projects/{PROJECT}/locations/global/publishers/google/models/{MODEL}:generateContent"
    )
    assert call["request"]["contents"][0]["role"] == "user"
    assert fake.state.token_requests == 1
    await vertex_client.aio.models.generate_content(model=MODEL, contents="again", config=CONFIG)
    assert fake.state.token_requests == 1  # the SDK reuses its token


async def test_vertex_jpeg_output_and_faults(fake, vertex_client):
    cfg = types.GenerateContentConfig(
        image_config=types.ImageConfig(aspect_ratio="1:1", image_size="1K", output_mime_type="image/jpeg")
    )
    response = await vertex_client.aio.models.generate_content(model=MODEL, contents="x", config=cfg)
    image = next(p for p in response.candidates[0].content.parts if p.inline_data and not p.thought)
    assert image.inline_data.mime_type == "image/jpeg" and image.inline_data.data[:3] == b"\xff\xd8\xff"
    fake.state.injector.force("unavailable")
    with pytest.raises(errors.ServerError) as info:
        await vertex_client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)
    assert info.value.code == 503


async def test_vertex_token_is_required_and_verified(fake, vertex_client):
    fake.state.service_accounts.clear()  # the fake no longer knows the key: the grant is refused
    with pytest.raises(Exception, match="account not found"):
        await vertex_client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)
    other = new_service_account(f"{fake.url}/token", project_id=PROJECT)
    fake.state.service_accounts[other["client_email"]] = public_key_pem(
        new_service_account("unused")["private_key"]
    )  # same email, different key: bad signature
    creds = service_account.Credentials.from_service_account_info(
        other, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    client = genai.Client(
        vertexai=True,
        project=PROJECT,
        location="global",
        credentials=creds,
        http_options=types.HttpOptions(base_url=fake.url),
    )
    with pytest.raises(Exception, match="Invalid JWT Signature"):
        await client.aio.models.generate_content(model=MODEL, contents="x", config=CONFIG)


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        (
            "gemini",
            {
                "contents": [
                    {"parts": [{"text": "x"}, {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}}]}
                ]
            },
            200,
            None,
        ),
        ("gemini", {"contents": [{"parts": [{"text": "x"}]}], "foo": 1}, 400, 'Unknown name "foo": Cannot find field.'),
        ("gemini", {"generationConfig": {"responseModalities": ["IMAGE"]}}, 400, "contents is not specified"),
        (
            "gemini",
            {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "%%%"}}]}]},
            400,
            "Base64 decoding failed",
        ),
        (
            "gemini",
            {"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"imageConfig": {"imageSize": "2k"}}},
            400,
            "Unsupported image size",
        ),
        (
            "gemini",
            {
                "contents": [{"parts": [{"text": "x"}]}],
                "generationConfig": {"imageConfig": {"personGeneration": "ALLOW_ALL"}},
            },
            400,
            'Unknown name "personGeneration"',
        ),
        ("vertex", {"contents": [{"parts": [{"text": "x"}]}]}, 400, "valid role"),
        (
            "vertex",
            {
                "contents": [{"role": "user", "parts": [{"text": "x"}]}],
                "generation_config": {"image_config": {"person_generation": "ALLOW_ALL"}},
            },
            200,
            None,
        ),
    ],
)
async def test_fake_validates_like_google(fake, path, body, status, needle):
    state = fake.state
    if path == "gemini":
        url, headers = f"{fake.url}/v1beta/models/{MODEL}:generateContent?key={state.api_key}", {}
    else:
        url = f"{fake.url}/v1/projects/{PROJECT}/locations/global/publishers/google/models/{MODEL}:generateContent"
        headers = {"Authorization": f"Bearer {state.issue_token()}"}
    async with aiohttp.ClientSession() as session, session.post(url, json=body, headers=headers) as resp:
        data = await resp.json()
    assert resp.status == status, data
    if needle:
        assert data["error"]["status"] == "INVALID_ARGUMENT" and needle in data["error"]["message"]
