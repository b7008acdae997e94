"""Faithfulness: the official fal-client SDK works end to end against the fake fal queue API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator

import fal_client
import fal_client.client as fal_module
import httpx
import pytest
from fal_client.client import Completed, FalClientHTTPError, InProgress, Queued

from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.fal import FalFakeState, create_app

KEY = "fal-sdk-key-id:fal-sdk-key-secret"
MODEL = "fal-ai/gemini-3-pro-image-preview"


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[tuple[RunningFake, FalFakeState]]:
    state = FalFakeState(key=KEY)
    async with RunningFake(create_app(state)) as running:
        # fal-client builds https URLs from FAL_QUEUE_RUN_HOST / FAL_RUN_HOST at import time; point them at the fake
        monkeypatch.setattr(fal_module, "QUEUE_URL_FORMAT", running.url + "/")
        monkeypatch.setattr(fal_module, "RUN_URL_FORMAT", running.url + "/run/")
        yield running, state


@pytest.fixture
async def client(fake) -> AsyncIterator[fal_client.AsyncClient]:
    c = fal_client.AsyncClient(key=KEY)
    yield c
    await (await c._client).aclose()


def data_uri(width: int, height: int) -> str:
    return "data:image/png;base64," + base64.b64encode(make_image(width, height, "png", "ref")).decode()


async def test_submit_status_and_result(client, fake) -> None:
    running, state = fake
    state.queue_polls, state.progress_polls = 1, 1
    handle = await client.submit(MODEL, {"prompt": "a lighthouse", "aspect_ratio": "16:9", "num_images": 2})
    assert handle.status_url == f"{running.url}/{MODEL}/requests/{handle.request_id}/status"
    assert isinstance(await handle.status(), Queued)
    in_progress = await handle.status(with_logs=True)
    assert isinstance(in_progress, InProgress) and isinstance(in_progress.logs, list)
    await state.jobs[handle.request_id].done.wait()  # rendering happens in a thread
    completed = await client.status(MODEL, handle.request_id, with_logs=True)
    assert isinstance(completed, Completed) and completed.error is None
    result = await client.result(MODEL, handle.request_id)
    assert len(result["images"]) == 2
    image = result["images"][0]
    assert (image["width"], image["height"]) == (1376, 768) and image["content_type"] == "image/png"
    async with httpx.AsyncClient() as http:
        body = (await http.get(image["url"])).content
    assert body.startswith(b"\x89PNG")
    assert state.seen[0]["headers"]["Authorization"] == f"Key {KEY}"


async def test_subscribe_reports_queue_updates(client, fake) -> None:
    fake[1].queue_polls = 2
    updates: list[object] = []
    result = await client.subscribe(
        MODEL, {"prompt": "a fox", "output_format": "webp"}, with_logs=True, interval=0, on_queue_update=updates.append
    )
    assert any(isinstance(u, Queued) for u in updates) and isinstance(updates[-1], Completed)
    assert result["images"][0]["content_type"] == "image/webp"


async def test_edit_subpath_and_status_urls_without_it(client, fake) -> None:
    running, state = fake
    handle = await client.submit(MODEL, {"prompt": "make it night", "image_urls": [data_uri(80, 60)]}, path="edit")
    assert state.seen[0]["path"] == f"/{MODEL}/edit"
    assert "/edit" not in handle.status_url and "/edit" not in handle.response_url
    result = await handle.get(interval=0)
    assert (result["images"][0]["width"], result["images"][0]["height"]) == (1200, 896)  # auto: nearest 4:3


async def test_cancel_then_already_completed(client, fake) -> None:
    _, state = fake
    state.hold = asyncio.Event()
    handle = await client.submit(MODEL, {"prompt": "slow"})
    await client.cancel(MODEL, handle.request_id)
    assert state.canceled == [handle.request_id]
    with pytest.raises(FalClientHTTPError) as info:
        await handle.cancel()
    assert info.value.status_code == 400 and "ALREADY_COMPLETED" in info.value.response.text


async def test_validation_errors_are_422_detail_lists(client, fake) -> None:
    with pytest.raises(FalClientHTTPError) as info:
        await client.submit(MODEL, {"prompt": "x", "num_images": 5, "colour": "red"})
    assert info.value.status_code == 422
    kinds = {(tuple(d["loc"]), d["type"]) for d in info.value.message}
    assert kinds == {(("body", "num_images"), "less_than_equal"), (("body", "colour"), "extra_forbidden")}
    with pytest.raises(FalClientHTTPError) as info:
        await client.submit(MODEL, {"prompt": "x", "image_urls": [data_uri(8, 8)] * 3}, path="edit")
    assert info.value.message[0]["type"] == "too_long"
    with pytest.raises(FalClientHTTPError) as info:
        await client.submit(MODEL, {"prompt": "x"}, path="edit")
    assert info.value.message[0]["loc"] == ["body", "image_urls"]
    with pytest.raises(FalClientHTTPError) as info:
        await client.submit(MODEL, {"prompt": "x", "resolution": "8K"})
    assert info.value.message[0]["type"] == "literal_error"


async def test_errors_reach_the_sdk(client, fake) -> None:
    _, state = fake
    state.injector.force("content_policy")
    with pytest.raises(FalClientHTTPError) as info:
        await client.subscribe(MODEL, {"prompt": "forbidden"}, interval=0)
    assert info.value.status_code == 422 and info.value.message[0]["type"] == "content_policy_violation"
    assert info.value.response_headers["x-fal-retryable"] == "false"

    state.fail_next("runner_disconnected")
    handle = await client.submit(MODEL, {"prompt": "unlucky"})
    statuses = [s async for s in handle.iter_events(interval=0)]
    assert isinstance(statuses[-1], Completed) and statuses[-1].error_type == "runner_disconnected"
    with pytest.raises(FalClientHTTPError) as info:
        await handle.get(interval=0)
    assert info.value.status_code == 503 and info.value.error_type == "runner_disconnected"

    state.injector.force("server_error")
    with pytest.raises(FalClientHTTPError) as info:
        await client.submit(MODEL, {"prompt": "boom"})
    assert info.value.status_code == 500


async def test_wrong_key_is_401(fake) -> None:
    c = fal_client.AsyncClient(key="fal-other-id:other-secret")
    try:
        with pytest.raises(FalClientHTTPError) as info:
            await c.submit(MODEL, {"prompt": "x"})
    finally:
        await (await c._client).aclose()
    assert info.value.status_code == 401


async def test_sync_client_in_a_thread(fake) -> None:
    sync = fal_client.SyncClient(key=KEY)

    def work() -> tuple[dict, dict]:
        try:
            queued = sync.subscribe(MODEL, {"prompt": "a kite"}, interval=0)
            direct = sync.run(MODEL, {"prompt": "a kite", "sync_mode": True, "output_format": "jpeg"})
            return queued, direct
        finally:
            sync._client.close()

    queued, direct = await asyncio.to_thread(work)
    assert queued["images"][0]["url"].startswith(fake[0].url + "/files/")
    url = direct["images"][0]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.partition(",")[2]).startswith(b"\xff\xd8\xff")
    assert fake[1].requests("POST", "/run/")
