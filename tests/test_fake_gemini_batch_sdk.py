"""The Gemini fake's batch mode and Files API, judged by google-genai's ``client.files`` and ``client.batches``."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from google import genai
from google.genai import types
from PIL import Image

from imagegate.testing.fakes.common import RunningFake
from imagegate.testing.fakes.gemini import GoogleFakeState, create_app
from imagegate.testing.fakes.gemini.batch import WORLD

MODEL = "gemini-3-pro-image-preview"
REQUEST = {
    "contents": [{"role": "user", "parts": [{"text": "a lighthouse"}]}],
    "generationConfig": {"responseModalities": ["TEXT", "IMAGE"], "imageConfig": {"aspectRatio": "16:9"}},
}


@pytest.fixture
async def fake():
    state = GoogleFakeState()
    async with RunningFake(create_app(state)) as running:
        running.state = state
        yield running


def _client(fake) -> genai.Client:  # type: ignore[no-untyped-def]
    return genai.Client(api_key=fake.state.api_key, http_options=types.HttpOptions(base_url=fake.url))


def _png_size(b64_or_bytes: bytes | str) -> tuple[int, int]:
    data = base64.b64decode(b64_or_bytes) if isinstance(b64_or_bytes, str) else b64_or_bytes
    with Image.open(io.BytesIO(data)) as img:
        return img.size


async def test_file_batch_through_the_sdk(fake, tmp_path: Path) -> None:
    client = _client(fake)
    src = tmp_path / "requests.jsonl"
    src.write_text("\n".join(json.dumps({"key": f"k{i}", "request": REQUEST}) for i in range(3)))
    uploaded = await client.aio.files.upload(file=str(src), config=types.UploadFileConfig(mime_type="jsonl"))
    assert uploaded.name and uploaded.name.startswith("files/")
    job = await client.aio.batches.create(model=MODEL, src=uploaded.name, config={"display_name": "nightly"})
    assert job.name.startswith("batches/") and job.state == types.JobState.JOB_STATE_PENDING
    polled = await client.aio.batches.get(name=job.name)
    assert polled.state == types.JobState.JOB_STATE_RUNNING
    done = await client.aio.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None and done.dest.file_name
    content = await client.aio.files.download(file=done.dest.file_name)
    lines = [json.loads(x) for x in content.decode().splitlines()]
    assert sorted(x["key"] for x in lines) == ["k0", "k1", "k2"]
    for x in lines:
        parts = x["response"]["candidates"][0]["content"]["parts"]
        image = next(p["inlineData"]["data"] for p in parts if "inlineData" in p and not p.get("thought"))
        w, h = _png_size(image)
        assert w > h  # 16:9
        assert x["response"]["usageMetadata"]["candidatesTokenCount"] > 0
    assert fake.app[WORLD].seen_batch_requests == 3


async def test_inline_batch_and_cancel(fake) -> None:
    client = _client(fake)
    inline = [types.InlinedRequest(model=MODEL, contents="a fox", metadata={"key": "fox"})]
    job = await client.aio.batches.create(model=MODEL, src=inline)
    await client.aio.batches.get(name=job.name)
    done = await client.aio.batches.get(name=job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    (answer,) = done.dest.inlined_responses  # type: ignore[union-attr]
    assert answer.response is not None and answer.response.candidates
    other = await client.aio.batches.create(model=MODEL, src=inline)
    await client.aio.batches.cancel(name=other.name)
    assert (await client.aio.batches.get(name=other.name)).state == types.JobState.JOB_STATE_CANCELLED


async def test_bad_request_in_a_batch_is_an_error_line(fake, tmp_path: Path) -> None:
    client = _client(fake)
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps({"key": "bad", "request": {"contents": [], "bogusField": 1}}) + "\n")
    uploaded = await client.aio.files.upload(file=str(src), config=types.UploadFileConfig(mime_type="jsonl"))
    job = await client.aio.batches.create(model=MODEL, src=uploaded.name)
    await client.aio.batches.get(name=job.name)
    done = await client.aio.batches.get(name=job.name)
    (line,) = [json.loads(x) for x in (await client.aio.files.download(file=done.dest.file_name)).splitlines()]
    assert line["key"] == "bad" and line["error"]["status"] == "INVALID_ARGUMENT"
