"""The fal.ai adapter against the fake fal queue API (imagegate.testing.fakes.fal)."""

from __future__ import annotations

import asyncio
import base64
import random
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from imagegate.catalog.schema import Offer
from imagegate.core.errors import (
    AuthFailed,
    BadResponse,
    ContentPolicy,
    ProviderError,
    ProviderInvalidRequest,
    RateLimited,
    Timeout,
    Unavailable,
)
from imagegate.core.types import ImageRequest, InputImage
from imagegate.media.sizes import map_size
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.fal import FalProvider, map_error
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.fakes.fal import FalFakeState, create_app
from tests.helpers_providers import catalog_offer

KEY = "fal-test-key-id:fal-test-key-secret-1234567890"
APP = "/fal-ai/gemini-3-pro-image-preview"


@pytest.fixture(scope="module")
def offer() -> Offer:
    return catalog_offer("fal")


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, FalFakeState]]:
    state = FalFakeState(key=KEY)
    async with RunningFake(create_app(state)) as running:
        yield running, state


def provider_for(running: RunningFake, key: str = KEY, **kw) -> FalProvider:
    kw.setdefault("poll_schedule", (0.0,))
    return FalProvider(ProviderSettings(name="fal", api_key=key, base_url=running.url), **kw)


@pytest.fixture
async def fal(fake) -> AsyncIterator[FalProvider]:
    provider = provider_for(fake[0])
    yield provider
    await provider.aclose()


def png(width: int = 64, height: int = 48, text: str = "in") -> InputImage:
    return InputImage(data=make_image(width, height, "png", text), mime_type="image/png", width=width, height=height)


def make_call(
    offer: Offer,
    *,
    op: str = "generate",
    n: int = 1,
    images: list[InputImage] | None = None,
    deadline_s: float = 30.0,
    **fields,
) -> ProviderCall:
    req = ImageRequest(
        operation=op,
        model="gemini-3-pro-image-preview",
        prompt="a red fox in the snow",
        n=n,
        images=images or [],
        **fields,
    )
    return ProviderCall(
        request=req, offer=offer, spec=map_size(req, offer.capabilities), n=n, deadline=time.monotonic() + deadline_s
    )


def only_job(state: FalFakeState):
    assert len(state.jobs) == 1
    return next(iter(state.jobs.values()))


async def test_generate_round_trip(fal, fake, offer) -> None:
    _, state = fake
    assert isinstance(fal, Provider)
    result = await fal.generate(make_call(offer))
    assert len(result.images) == 1
    img = result.images[0]
    assert img.mime_type == "image/png" and img.data is not None and img.data.startswith(b"\x89PNG")
    assert (img.width, img.height) == (1024, 1024)
    assert result.text == "Here is the image you asked for."
    assert result.usage.output_images == 1 and result.usage.input_images == 0 and not result.usage.reported
    job = only_job(state)
    assert result.provider_request_id == job.id
    assert job.body == {
        "prompt": "a red fox in the snow",
        "num_images": 1,
        "aspect_ratio": "auto",
        "output_format": "png",
        "sync_mode": False,
    }
    submit = state.requests("POST")[0]
    assert submit["path"] == APP and submit["headers"]["Authorization"] == f"Key {KEY}"
    assert state.requests("GET", f"/requests/{job.id}/status")
    downloads = state.requests("GET", "/files/")
    assert len(downloads) == 1 and "Authorization" not in downloads[0]["headers"]
    assert result.ttfb_ms is not None and result.ttfb_ms > 0


async def test_several_images_ratio_tier_format_seed_and_extras(fal, fake, offer) -> None:
    _, state = fake
    call = make_call(
        offer,
        n=3,
        aspect_ratio="16:9",
        resolution="2K",
        output_format="jpg",
        seed=7,
        extra={"safety_tolerance": 4, "not_a_fal_field": True},
    )
    result = await fal.generate(call)
    assert len(result.images) == 3
    assert {i.mime_type for i in result.images} == {"image/jpeg"}
    assert {(i.width, i.height) for i in result.images} == {(2752, 1536)}
    body = only_job(state).body
    assert body["num_images"] == 3 and body["aspect_ratio"] == "16:9" and body["resolution"] == "2K"
    assert body["output_format"] == "jpeg" and body["seed"] == 7 and body["safety_tolerance"] == "4"
    assert "not_a_fal_field" not in body
    assert result.usage.output_images == 3


async def test_unsupported_output_format_falls_back_to_png(fal, fake, offer) -> None:
    result = await fal.generate(make_call(offer, output_format="avif"))
    assert only_job(fake[1]).body["output_format"] == "png"
    assert result.images[0].mime_type == "image/png"


async def test_edit_sends_data_uris_to_the_edit_path_and_polls_without_it(fal, fake, offer) -> None:
    _, state = fake
    inputs = [png(64, 48, "a"), png(32, 32, "b")]
    result = await fal.generate(make_call(offer, op="edit", images=inputs))
    job = only_job(state)
    assert state.requests("POST")[0]["path"] == APP + "/edit"
    assert job.body["image_urls"] == ["data:image/png;base64," + base64.b64encode(i.data).decode() for i in inputs]
    polls = state.requests("GET", "/status")
    assert polls and all(p["path"] == f"{APP}/requests/{job.id}/status" for p in polls)
    assert result.usage.input_images == 2 and len(result.images) == 1


async def test_edit_with_more_images_than_fal_takes_is_refused_locally(fal, fake, offer) -> None:
    with pytest.raises(ProviderInvalidRequest):
        await fal.generate(make_call(offer, op="edit", images=[png(), png(), png()]))
    assert fake[1].seen == []


async def test_polls_through_queue_and_progress(fake, offer) -> None:
    running, state = fake
    state.queue_polls, state.progress_polls = 2, 2
    provider = provider_for(running)
    try:
        await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    answers = only_job(state).answers
    assert answers[:2] == ["IN_QUEUE", "IN_QUEUE"] and answers[-1] == "COMPLETED"
    assert answers[2:-1] and set(answers[2:-1]) == {"IN_PROGRESS"} and len(answers[2:-1]) >= 2
    assert len(state.requests("GET", "/status")) == len(answers)


async def test_status_answers_202_until_completed_and_every_2xx_is_accepted(fake, offer) -> None:
    """fal's queue status is ``202 Accepted`` while IN_QUEUE / IN_PROGRESS and 200 once COMPLETED (issue 9): the
    fake answers so, and the adapter reads the state from the body of any 2xx."""
    running, state = fake
    state.queue_polls, state.progress_polls = 1, 1
    state.hold = asyncio.Event()
    provider = provider_for(running, poll_schedule=(0.01,))
    try:
        task = asyncio.ensure_future(provider.generate(make_call(offer)))
        await state.polled.wait()
        job = only_job(state)
        async with aiohttp.ClientSession() as session:
            url = f"{running.url}{APP}/requests/{job.id}/status"
            async with session.get(url, headers={"Authorization": f"Key {KEY}"}) as resp:
                assert resp.status == 202 and (await resp.json())["status"] in ("IN_QUEUE", "IN_PROGRESS")
            state.hold.set()
            result = await task
            async with session.get(url, headers={"Authorization": f"Key {KEY}"}) as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "COMPLETED"
    finally:
        await provider.aclose()
    assert result.images and "IN_PROGRESS" in job.answers


def test_poll_schedule_with_jitter() -> None:
    settings = ProviderSettings(name="fal", api_key=KEY)
    provider = FalProvider(settings, poll_schedule=(1.0, 2.0), jitter=0.5, rng=random.Random(3))
    delays = [provider.poll_delay(i) for i in range(4)]
    assert 0.5 <= delays[0] <= 1.5 and all(1.0 <= d <= 3.0 for d in delays[1:])
    plain = FalProvider(settings, poll_schedule=(0.25, 0.5), jitter=0)
    assert [plain.poll_delay(i) for i in range(3)] == [0.25, 0.5, 0.5]


@pytest.mark.parametrize(
    ("fault", "error", "retryable"),
    [
        ("rate_limited", RateLimited, True),
        ("server_error", Unavailable, True),
        ("unavailable", Unavailable, True),
        ("malformed", BadResponse, True),
        ("reset", Unavailable, True),
        ("content_policy", ContentPolicy, False),
    ],
)
async def test_faults_map_to_typed_errors(fal, fake, offer, fault, error, retryable) -> None:
    fake[1].injector.force(fault)
    with pytest.raises(error) as info:
        await fal.generate(make_call(offer))
    assert info.value.retryable is retryable and info.value.provider == "fal"
    assert KEY not in str(info.value) and "fal-test-key" not in repr(info.value.args)
    if fault == "rate_limited":
        assert info.value.retry_after == 2.0


async def test_submit_that_never_answers_ends_when_the_router_cancels_it(fal, fake, offer) -> None:
    """The router alone enforces time limits (it cancels the attempt): the adapter adds no timer of its own."""
    fake[1].injector.force("timeout")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(fal.generate(make_call(offer, deadline_s=0.3)), 0.3)


@pytest.mark.parametrize(
    ("failure", "error", "retryable"),
    [
        ("runner_disconnected", Unavailable, True),
        ("request_timeout", Timeout, True),
        ("app_error", ProviderInvalidRequest, False),  # 500 with X-Fal-Retryable: false
    ],
)
async def test_request_errors_after_the_queue(fal, fake, offer, failure, error, retryable) -> None:
    fake[1].fail_next(failure)
    with pytest.raises(error) as info:
        await fal.generate(make_call(offer))
    assert info.value.retryable is retryable
    assert KEY not in str(info.value)
    if failure != "app_error":
        assert info.value.reason == failure


async def test_wrong_key_is_auth_failed_without_the_key_in_the_error(fake, offer) -> None:
    provider = provider_for(fake[0], key="fal-wrong-key-id:wrong-secret-0123456789")
    try:
        with pytest.raises(AuthFailed) as info:
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert "wrong-secret" not in str(info.value)


async def test_cancel_at_the_time_limit_cancels_upstream(fake, offer) -> None:
    running, state = fake
    state.hold = asyncio.Event()
    provider = provider_for(running, poll_schedule=(0.01,))
    try:
        with pytest.raises(TimeoutError):  # the router cancelling the attempt at its limit
            await asyncio.wait_for(provider.generate(make_call(offer, deadline_s=0.3)), 0.3)
    finally:
        await provider.aclose()
    job = only_job(state)
    assert state.canceled == [job.id]
    assert state.requests("PUT")[0]["path"] == f"{APP}/requests/{job.id}/cancel"


async def test_cancel_on_task_cancellation(fal, fake, offer) -> None:
    _, state = fake
    state.hold = asyncio.Event()
    task = asyncio.create_task(fal.generate(make_call(offer)))
    await state.polled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state.canceled == [only_job(state).id]


def test_error_mapping_table() -> None:
    h = {}
    policy = b'{"detail":[{"loc":["body","prompt"],"msg":"flagged","type":"content_policy_violation"}]}'
    cases: list[tuple[int, bytes, dict, type[ProviderError]]] = [
        (401, b'{"detail":"No user found for Key ID and Secret"}', h, AuthFailed),
        (403, b'{"detail":"Forbidden"}', h, AuthFailed),
        (422, policy, {"X-Fal-Retryable": "false"}, ContentPolicy),
        (
            422,
            b'{"detail":[{"loc":["body","num_images"],"msg":"too many","type":"less_than_equal"}]}',
            h,
            ProviderInvalidRequest,
        ),
        (429, b'{"detail":"slow down"}', {"Retry-After": "3"}, RateLimited),
        (503, b'{"detail":"x","error_type":"runner_disconnected"}', {"X-Fal-Retryable": "true"}, Unavailable),
        (504, b'{"detail":"Request timed out","error_type":"request_timeout"}', h, Timeout),
        (503, b"<html>nginx</html>", h, Unavailable),
        (503, b'{"detail":"no"}', {"X-Fal-Retryable": "false"}, ProviderInvalidRequest),
        (400, b'{"detail":"Request is still in progress"}', h, ProviderInvalidRequest),
    ]
    for status, body, headers, expected in cases:
        err = map_error("fal", status, body, headers)
        assert type(err) is expected, (status, body)
    assert map_error("fal", 429, b"{}", {"Retry-After": "3"}).retry_after == 3.0
    assert "num_images: too many" in map_error("fal", 422, cases[3][1], h).message
