"""The Replicate adapter against the protocol-faithful fake (loopback, no real network)."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import pytest
from PIL import Image

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
from imagegate.core.types import ImageRequest, InputImage, RenderSpec
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.replicate import PollSchedule, ReplicateProvider
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes.common import RunningFake
from imagegate.testing.fakes.replicate import ReplicateFakeState, create_app
from imagegate.testing.faults import FaultInjector, FaultProfile
from tests.helpers_providers import catalog_offer

TOKEN = "r8_TestTokenThatMustNeverLeak0123456789"
NO_WAIT = PollSchedule(initial_s=0.0, factor=1.0, cap_s=0.0, jitter=0.0)


@pytest.fixture(scope="module")
def offer():
    found = catalog_offer("replicate")
    assert found.provider_model_id == "google/nano-banana-pro"
    return found


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RunningFake, ReplicateFakeState]]:
    state = ReplicateFakeState(api_token=TOKEN)
    async with RunningFake(create_app(state)) as running:
        yield running, state


def make_provider(url: str, token: str = TOKEN, **kw) -> ReplicateProvider:
    kw.setdefault("poll", NO_WAIT)
    return ReplicateProvider(ProviderSettings(name="replicate", api_key=token, base_url=url), **kw)


def make_call(
    offer,
    *,
    images: list[InputImage] | None = None,
    aspect: str | None = "16:9",
    resolution="1K",
    output_format: str | None = None,
    extra: dict | None = None,
    timeout_s: float = 30.0,
) -> ProviderCall:
    request = ImageRequest(
        operation="edit" if images else "generate",
        model="gemini-3-pro-image-preview",
        prompt="a capybara reading a newspaper",
        images=images or [],
        output_format=output_format,
        extra=extra or {},
    )
    spec = RenderSpec(aspect_ratio=aspect, resolution=resolution, width=1376, height=768)
    return ProviderCall(request=request, offer=offer, spec=spec, n=1, deadline=time.monotonic() + timeout_s)


def png(width: int, height: int, noisy: bool = False) -> bytes:
    img = Image.effect_noise((width, height), 80).convert("RGB") if noisy else Image.new("RGB", (width, height))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def slow(state: ReplicateFakeState) -> None:
    """Generations finish only when the test says so; Prefer: wait runs out after a few milliseconds."""
    state.hold = asyncio.Event()
    state.injector.reconfigure(FaultProfile(time_scale=0.001))


def polls(state: ReplicateFakeState) -> list[dict]:
    return [s for s in state.requests("GET", "/v1/predictions/")]


async def test_satisfies_the_provider_protocol(fake):
    provider = make_provider(fake[0].url)
    assert isinstance(provider, Provider) and provider.name == "replicate"
    await provider.aclose()


async def test_sync_completion_within_prefer_wait(fake, offer):
    running, state = fake
    provider = make_provider(running.url)
    try:
        result = await provider.generate(make_call(offer, output_format="jpeg", resolution="2K"))
    finally:
        await provider.aclose()
    image = result.images[0]
    assert image.mime_type == "image/jpeg" and (image.width, image.height) == (2752, 1536)
    assert Image.open(io.BytesIO(image.data)).size == (2752, 1536)
    assert result.provider_request_id in state.runs
    assert result.usage.output_images == 1 and result.usage.input_images == 0
    assert result.ttfb_ms is not None and result.ttfb_ms > 0
    create = state.requests("POST", "/v1/models/google/nano-banana-pro/predictions")[0]
    assert create["json"] == {
        "input": {
            "prompt": "a capybara reading a newspaper",
            "aspect_ratio": "16:9",
            "resolution": "2K",
            "output_format": "jpg",
            "safety_filter_level": "block_only_high",
        }
    }
    assert create["prefer"] == "wait=29"  # below the 30 s left, so the answer comes before our deadline
    assert create["cancel_after"] == "30s"
    assert polls(state) == []


async def test_processing_with_output_needs_no_poll(fake, offer):
    running, state = fake
    state.processing_with_output_rate = 1.0
    provider = make_provider(running.url)
    try:
        result = await provider.generate(make_call(offer, extra={"safety_filter_level": "block_low_and_above"}))
    finally:
        await provider.aclose()
    assert result.images[0].mime_type == "image/png"
    assert polls(state) == []
    create = state.requests("POST", "/v1/models/")[0]
    assert create["json"]["input"]["safety_filter_level"] == "block_low_and_above"


async def test_starting_then_polls_until_succeeded(fake, offer):
    running, state = fake
    slow(state)
    naps: list[float] = []

    async def sleep(delay: float) -> None:
        naps.append(delay)
        if len(naps) == 2:  # let the generation finish after the first poll saw it still running
            state.hold.set()
            await state.settle()

    provider = make_provider(running.url, sleep=sleep)
    try:
        result = await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert result.images[0].data.startswith(b"\x89PNG")
    assert len(polls(state)) == 2 and naps == [0.0, 0.0]
    assert polls(state)[0]["path"] == f"/v1/predictions/{result.provider_request_id}"


async def test_deadline_cancels_the_prediction_and_times_out(fake, offer):
    running, state = fake
    slow(state)
    call = make_call(offer)

    async def sleep(delay: float) -> None:
        call.deadline = time.monotonic() - 1  # the clock ran out while we waited

    provider = make_provider(running.url, sleep=sleep)
    try:
        with pytest.raises(Timeout):
            await provider.generate(call)
    finally:
        await provider.aclose()
    pid = next(iter(state.runs))
    assert state.canceled == [pid] and state.runs[pid].pred["status"] == "canceled"


async def test_task_cancellation_cancels_the_prediction(fake, offer):
    running, state = fake
    slow(state)
    polling = asyncio.Event()

    async def sleep(delay: float) -> None:
        polling.set()
        await asyncio.Event().wait()  # until cancelled

    provider = make_provider(running.url, sleep=sleep)
    task = asyncio.create_task(provider.generate(make_call(offer)))
    await polling.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await provider.aclose()
    pid = next(iter(state.runs))
    assert state.canceled == [pid]


async def test_content_policy_e005(fake, offer):
    running, state = fake
    state.injector.force("content_policy")
    provider = make_provider(running.url)
    try:
        with pytest.raises(ContentPolicy) as info:
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert info.value.reason == "E005" and not info.value.retryable
    assert state.canceled == []


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("rate_limited", RateLimited, 429),
        ("server_error", Unavailable, 500),
        ("unavailable", Unavailable, 503),
        ("malformed", BadResponse, 201),
        ("reset", Unavailable, None),
    ],
)
async def test_create_faults_map_to_typed_errors(fake, offer, fault, error, status):
    running, state = fake
    state.injector.force(fault)
    state.injector.profile.retry_after_s = 5
    provider = make_provider(running.url)
    try:
        with pytest.raises(error) as info:
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert info.value.status == status and info.value.provider == "replicate"
    if fault == "rate_limited":
        assert info.value.retry_after == 5.0
    assert TOKEN not in str(info.value)


async def test_rate_limit_retry_after_from_the_body(offer):
    from aiohttp import web

    async def throttled(request: web.Request) -> web.Response:
        return web.json_response({"detail": "Request was throttled.", "status": 429, "retry_after": 7}, status=429)

    app = web.Application()
    app.router.add_post("/v1/models/{owner}/{name}/predictions", throttled)
    async with RunningFake(app) as running:
        provider = make_provider(running.url)
        try:
            with pytest.raises(RateLimited) as info:
                await provider.generate(make_call(offer))
        finally:
            await provider.aclose()
    assert info.value.retry_after == 7.0


async def test_small_input_goes_as_data_url_large_through_files_api(fake, offer):
    running, state = fake
    small = InputImage(data=png(64, 48), mime_type="image/png", width=64, height=48)
    large = InputImage(data=png(400, 300, noisy=True), mime_type="image/png", width=400, height=300)
    provider = make_provider(running.url, data_url_max_bytes=100_000)
    assert len(small.data) < 100_000 < len(large.data)
    try:
        result = await provider.generate(make_call(offer, images=[small, large], aspect=None))
    finally:
        await provider.aclose()
    run = state.runs[result.provider_request_id]
    assert run.input_kinds == ["data", "file"]
    inp = run.pred["input"]
    assert inp["image_input"][0].startswith("data:image/png;base64,")
    assert inp["image_input"][1].startswith(f"{running.url}/v1/files/")
    assert inp["aspect_ratio"] == "match_input_image"
    assert (result.images[0].width, result.images[0].height) == (1200, 896)  # 64x48 is 4:3
    assert result.usage.input_images == 2
    assert len(state.files) == 1 and next(iter(state.files.values()))[0] == large.data


async def test_auth_failure(fake, offer):
    running, _ = fake
    provider = make_provider(running.url, token="r8_WrongTokenWrongTokenWrong0000")
    try:
        with pytest.raises(AuthFailed) as info:
            await provider.generate(make_call(offer))
    finally:
        await provider.aclose()
    assert info.value.status == 401 and "valid authentication token" in info.value.message
    assert "r8_WrongToken" not in str(info.value)


async def test_invalid_input_and_unknown_model(fake, offer):
    running, _ = fake
    provider = make_provider(running.url)
    try:
        with pytest.raises(ProviderInvalidRequest) as info:
            await provider.generate(make_call(offer, aspect="7:3"))
        assert info.value.status == 422 and "aspect_ratio must be one of" in info.value.message
        bad_offer = offer.model_copy(update={"provider_model_id": "google/no-such-model"})
        with pytest.raises(ProviderInvalidRequest) as info:
            await provider.generate(make_call(bad_offer))
        assert info.value.status == 404
    finally:
        await provider.aclose()


async def test_failed_prediction_other_than_moderation_is_unavailable(fake, offer):
    running, _ = fake
    provider = make_provider(running.url)
    broken = InputImage(data=b"x", mime_type="image/png", width=1, height=1)
    try:
        with pytest.raises(Unavailable) as info:
            # a data URL the fake cannot decode: the prediction runs and fails
            await provider.generate(make_call(offer, images=[broken]))
    finally:
        await provider.aclose()
    assert info.value.retryable


async def test_token_absent_from_every_error(fake, offer):
    running, state = fake
    errors: list[ProviderError] = []
    for fault in ("rate_limited", "server_error", "unavailable", "malformed", "reset", "content_policy"):
        state.injector.force(fault)
        provider = make_provider(running.url)
        try:
            await provider.generate(make_call(offer))
        except ProviderError as exc:
            errors.append(exc)
        finally:
            await provider.aclose()
    assert len(errors) == 6
    for exc in errors:
        assert TOKEN not in str(exc) and TOKEN not in repr(exc.args) and TOKEN not in exc.message


def test_poll_schedule_backs_off_with_jitter_and_a_cap():
    import random

    delays = PollSchedule().delays(random.Random(1))
    first = [next(delays) for _ in range(12)]
    assert 0.4 <= first[0] <= 0.6
    assert max(first) <= 5.0 * 1.2 and first[-1] >= 5.0 * 0.8
    assert first[3] > first[0]


def test_injector_default_profile_is_instant():
    assert FaultInjector().decide().latency_s == 0.0


async def test_polling_rides_out_transient_errors(offer):
    """A 429 or 503 while polling does not abandon a running (billed) prediction."""
    from aiohttp import web

    answers = iter([(429, {"detail": "throttled", "status": 429}), (503, {"detail": "busy", "status": 503})])
    naps: list[float] = []

    def prediction(request: web.Request, status: str, output: str | None = None) -> dict:
        base = f"http://{request.host}"
        return {
            "id": "p1",
            "status": status,
            "output": output,
            "urls": {"get": f"{base}/v1/predictions/p1", "cancel": f"{base}/v1/predictions/p1/cancel"},
        }

    async def create(request: web.Request) -> web.Response:
        return web.json_response(prediction(request, "starting"), status=201)

    async def get(request: web.Request) -> web.Response:
        status, body = next(answers, (200, None))
        if body is not None:
            return web.json_response(body, status=status, headers={"Retry-After": "3"})
        return web.json_response(prediction(request, "succeeded", f"http://{request.host}/out.png"))

    async def out(request: web.Request) -> web.Response:
        return web.Response(body=png(8, 8), content_type="image/png")

    async def sleep(delay: float) -> None:
        naps.append(delay)

    app = web.Application()
    app.router.add_post("/v1/models/{owner}/{name}/predictions", create)
    app.router.add_get("/v1/predictions/p1", get)
    app.router.add_get("/out.png", out)
    async with RunningFake(app) as running:
        provider = make_provider(running.url, sleep=sleep)
        try:
            result = await provider.generate(make_call(offer))
        finally:
            await provider.aclose()
    assert result.provider_request_id == "p1" and (result.images[0].width, result.images[0].height) == (8, 8)
    assert naps == [0.0, 3.0, 0.0, 0.0]  # poll, 429 (its Retry-After honoured), poll, 503, poll
