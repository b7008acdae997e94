"""Faithfulness: the official replicate-python SDK, pointed at the fake, behaves as against the real API.

The fake is served over TLS (self-signed, loopback) because the SDK only turns ``https:`` output URLs into
``FileOutput`` objects. The sync SDK runs in a worker thread while the fake runs in the test's event loop.
"""

from __future__ import annotations

import asyncio
import io
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from PIL import Image

from imagegate.testing.fakes.replicate import E005, VERSION_ID, ReplicateFakeState, create_app
from imagegate.testing.faults import FaultProfile
from tests.helpers_tls import self_signed_cert

replicate = pytest.importorskip("replicate")
from replicate.exceptions import ModelError, ReplicateError  # noqa: E402
from replicate.helpers import FileOutput  # noqa: E402

TOKEN = "r8_SdkTestToken0123456789abcdef"
MODEL = "google/nano-banana-pro"
INPUT = {
    "prompt": "a capybara reading a newspaper",
    "aspect_ratio": "3:2",
    "resolution": "1K",
    "output_format": "png",
    "safety_filter_level": "block_only_high",
}


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_cert(tmp_path_factory.mktemp("tls"))


class Fake:
    def __init__(self, state: ReplicateFakeState, url: str, cert: Path) -> None:
        self.state, self.url, self.cert = state, url, cert

    def client(self, token: str = TOKEN, *, use_async: bool = False) -> replicate.Client:
        verify = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.AsyncHTTPTransport(verify=verify) if use_async else httpx.HTTPTransport(verify=verify)
        client = replicate.Client(api_token=token, base_url=self.url, transport=transport)
        client.poll_interval = 0.01
        return client


@pytest.fixture
async def fake(tls: tuple[Path, Path]) -> AsyncIterator[Fake]:
    state = ReplicateFakeState(api_token=TOKEN)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(tls[0]), str(tls[1]))
    runner = web.AppRunner(create_app(state), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001 - aiohttp exposes the bound port only here
    try:
        yield Fake(state, f"https://127.0.0.1:{port}", tls[0])
    finally:
        await runner.cleanup()


def image_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


async def test_run_returns_a_readable_file_output(fake: Fake):
    client = fake.client()
    output = await asyncio.to_thread(client.run, MODEL, input=INPUT)
    assert isinstance(output, FileOutput) and output.url.startswith(fake.url + "/files/")
    data = await asyncio.to_thread(output.read)
    assert data.startswith(b"\x89PNG") and image_size(data) == (1264, 848)
    assert fake.state.requests("POST")[0]["prefer"] == "wait"


async def test_async_run_and_aread(fake: Fake):
    client = fake.client(use_async=True)
    output = await client.async_run(MODEL, input={**INPUT, "output_format": "jpg", "resolution": "2K"})
    data = await output.aread()
    assert data.startswith(b"\xff\xd8\xff") and image_size(data) == (2528, 1696)


async def test_run_polls_when_the_wait_runs_out(fake: Fake):
    # latency 0.12 s (120 s scaled), Prefer: wait 60 s scaled to 0.06 s: the blocking answer says "starting"
    fake.state.injector.reconfigure(FaultProfile(p50_ms=120_000, p95_ms=120_000, time_scale=0.001))
    output = await asyncio.to_thread(fake.client().run, MODEL, input=INPUT)
    assert isinstance(output, FileOutput)
    assert len(fake.state.requests("GET", "/v1/predictions/")) >= 1


async def test_run_accepts_processing_with_output(fake: Fake):
    fake.state.processing_with_output_rate = 1.0
    output = await asyncio.to_thread(fake.client().run, MODEL, input=INPUT)
    assert isinstance(output, FileOutput)
    assert fake.state.requests("GET", "/v1/predictions/") == []


async def test_create_reload_cancel(fake: Fake):
    fake.state.hold = asyncio.Event()
    fake.state.injector.reconfigure(FaultProfile(time_scale=0.001))
    client = fake.client()
    prediction = await asyncio.to_thread(client.predictions.create, model=MODEL, input=INPUT, wait=True)
    assert prediction.status == "starting" and prediction.version == VERSION_ID
    assert prediction.input == INPUT and prediction.urls["get"].endswith(f"/v1/predictions/{prediction.id}")
    await asyncio.to_thread(prediction.reload)
    assert prediction.status == "processing" and prediction.started_at is not None
    await asyncio.to_thread(prediction.cancel)
    assert prediction.status == "canceled" and prediction.completed_at is not None
    await asyncio.to_thread(prediction.reload)
    assert prediction.status == "canceled" and fake.state.canceled == [prediction.id]


async def test_version_based_create_and_model_lookup(fake: Fake):
    client = fake.client()
    model = await asyncio.to_thread(client.models.get, MODEL)
    assert model.latest_version is not None and model.latest_version.id == VERSION_ID
    assert "prompt" in model.latest_version.openapi_schema["components"]["schemas"]["Input"]["properties"]
    prediction = await asyncio.to_thread(client.predictions.create, version=VERSION_ID, input=INPUT, wait=True)
    assert prediction.status == "succeeded" and prediction.output.startswith(fake.url)
    output = await asyncio.to_thread(client.run, f"{MODEL}:{VERSION_ID}", input=INPUT)
    assert isinstance(output, FileOutput)


async def test_files_api_upload_and_use_as_input(fake: Fake):
    client = fake.client()
    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 20, 30)).save(buf, format="PNG")
    file = await asyncio.to_thread(client.files.create, io.BytesIO(buf.getvalue()), filename="input.png")
    assert file.size == len(buf.getvalue()) and file.content_type == "image/png"
    assert file.urls["get"] == f"{fake.url}/v1/files/{file.id}"
    again = await asyncio.to_thread(client.files.get, file.id)
    assert again.checksums == file.checksums
    edit = {**INPUT, "image_input": [file.urls["get"]], "aspect_ratio": "match_input_image"}
    output = await asyncio.to_thread(client.run, MODEL, input=edit)
    assert image_size(await asyncio.to_thread(output.read)) == (1264, 848)  # 300x200 is 3:2
    assert [r.input_kinds for r in fake.state.runs.values()] == [["file"]]


async def test_content_policy_raises_model_error(fake: Fake):
    fake.state.injector.force("content_policy")
    with pytest.raises(ModelError) as info:
        await asyncio.to_thread(fake.client().run, MODEL, input=INPUT)
    assert info.value.prediction.status == "failed" and info.value.prediction.error == E005
    assert "(E005)" in str(info.value)


async def test_rate_limit_raises_replicate_error_429(fake: Fake):
    fake.state.injector.force("rate_limited")
    with pytest.raises(ReplicateError) as info:
        await asyncio.to_thread(fake.client().run, MODEL, input=INPUT)
    assert info.value.status == 429 and "throttled" in info.value.detail


async def test_validation_and_auth_errors(fake: Fake):
    with pytest.raises(ReplicateError) as info:
        await asyncio.to_thread(fake.client().run, MODEL, input={**INPUT, "aspect_ratio": "7:3", "seed": 1})
    assert info.value.status == 422 and info.value.title == "Input validation failed"
    assert "aspect_ratio must be one of" in info.value.detail and "Additional property seed" in info.value.detail
    with pytest.raises(ReplicateError) as info:
        await asyncio.to_thread(fake.client("r8_wrong").run, MODEL, input=INPUT)
    assert info.value.status == 401 and info.value.title == "Unauthenticated"
    with pytest.raises(ReplicateError) as info:
        await asyncio.to_thread(fake.client().run, "google/unknown-model", input=INPUT)
    assert info.value.status == 404


async def test_cancel_after_deadline_and_stream(fake: Fake):
    fake.state.hold = asyncio.Event()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    verify = ssl.create_default_context(cafile=str(fake.cert))
    async with httpx.AsyncClient(base_url=fake.url, headers=headers, verify=verify) as http:
        bad = await http.post(
            f"/v1/models/{MODEL}/predictions", json={"input": INPUT}, headers={"Cancel-After": "soon"}
        )
        assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
        resp = await http.post(
            f"/v1/models/{MODEL}/predictions", json={"input": INPUT}, headers={"Cancel-After": "1ms"}
        )
        assert resp.status_code == 201 and resp.json()["status"] == "starting"
        run = fake.state.runs[resp.json()["id"]]
        await run.done.wait()
        assert run.pred["status"] in ("aborted", "canceled")
        fake.state.hold = None
        ok = (await http.post(f"/v1/models/{MODEL}/predictions", json={"input": INPUT})).json()
        async with http.stream("GET", ok["urls"]["stream"]) as stream:
            text = (await stream.aread()).decode()
    assert "event: output" in text and "event: done" in text
