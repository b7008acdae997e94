"""Every fal / Replicate offer of the catalog against the fakes: the exact upstream input for a generation and (where
the model edits) an edit, each validated by the fake against the model's published schema
(``imagegate/testing/schemas``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from imagegate.catalog import load_catalog
from imagegate.catalog.schema import Offer
from imagegate.core.types import ImageRequest, InputImage
from imagegate.media.sizes import map_size
from imagegate.providers.base import ProviderCall
from imagegate.providers.fal import FalProvider
from imagegate.providers.replicate import PollSchedule, ReplicateProvider
from imagegate.settings import ProviderSettings
from imagegate.testing.fakes import fal as fal_fake
from imagegate.testing.fakes import replicate as replicate_fake
from imagegate.testing.fakes.common import RunningFake, make_image
from imagegate.testing.schemas import schemas

PROMPT = "a lighthouse at dusk"
IMG = "<image>"
FAL_KEY = "fal-test-key-id:fal-test-key-secret"
R8 = "r8_catalog_offers_test_token"

FLUX_FAL = {
    "prompt": PROMPT,
    "num_images": 1,
    "image_size": "landscape_16_9",
    "output_format": "png",
    "seed": 42,
    "enable_safety_checker": True,
    "sync_mode": False,
}
KONTEXT_FAL = {
    "prompt": PROMPT,
    "num_images": 1,
    "aspect_ratio": "16:9",
    "output_format": "png",
    "seed": 42,
    "sync_mode": False,
}
KONTEXT_FAL_EDIT = {
    "prompt": PROMPT,
    "num_images": 1,
    "image_url": IMG,
    "output_format": "png",
    "seed": 42,
    "sync_mode": False,
}
KONTEXT_R = {"prompt": PROMPT, "aspect_ratio": "16:9", "output_format": "png", "seed": 42}
KONTEXT_R_EDIT = {
    "prompt": PROMPT,
    "input_image": IMG,
    "aspect_ratio": "match_input_image",
    "output_format": "png",
    "seed": 42,
}
QWEN_FAL = {**FLUX_FAL}
# (config key, operation) -> (upstream endpoint or model, exact input)
EXPECTED: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("fal/flux-1-schnell", "generate"): ("fal-ai/flux-1/schnell", FLUX_FAL),
    ("fal/flux-1-dev", "generate"): ("fal-ai/flux-1/dev", FLUX_FAL),
    ("fal/flux-1.1-pro", "generate"): ("fal-ai/flux-pro/v1.1", FLUX_FAL),
    ("fal/flux-kontext-pro", "generate"): ("fal-ai/flux-pro/kontext/text-to-image", KONTEXT_FAL),
    ("fal/flux-kontext-pro", "edit"): ("fal-ai/flux-pro/kontext", KONTEXT_FAL_EDIT),
    ("fal/flux-kontext-max", "generate"): ("fal-ai/flux-pro/kontext/max/text-to-image", KONTEXT_FAL),
    ("fal/flux-kontext-max", "edit"): ("fal-ai/flux-pro/kontext/max", KONTEXT_FAL_EDIT),
    ("fal/flux-2-pro", "generate"): (
        "fal-ai/flux-2-pro",
        {
            "prompt": PROMPT,
            "image_size": "landscape_16_9",
            "output_format": "png",
            "seed": 42,
            "enable_safety_checker": True,
            "sync_mode": False,
        },
    ),
    ("fal/flux-2-pro", "edit"): (
        "fal-ai/flux-2-pro/edit",
        {
            "prompt": PROMPT,
            "image_urls": [IMG],
            "output_format": "png",
            "seed": 42,
            "enable_safety_checker": True,
            "sync_mode": False,
        },
    ),
    ("fal/seedream-4.0", "generate"): (
        "fal-ai/bytedance/seedream/v4/text-to-image",
        {
            "prompt": PROMPT,
            "num_images": 1,
            "image_size": "landscape_16_9",
            "seed": 42,
            "enable_safety_checker": True,
            "sync_mode": False,
        },
    ),
    ("fal/seedream-4.0", "edit"): (
        "fal-ai/bytedance/seedream/v4/edit",
        {
            "prompt": PROMPT,
            "num_images": 1,
            "image_urls": [IMG],
            "seed": 42,
            "enable_safety_checker": True,
            "sync_mode": False,
        },
    ),
    ("fal/ideogram-v3", "generate"): (
        "fal-ai/ideogram/v3",
        {
            "prompt": PROMPT,
            "num_images": 1,
            "image_size": "landscape_16_9",
            "seed": 42,
            "rendering_speed": "BALANCED",
            "sync_mode": False,
        },
    ),
    ("fal/recraft-v3", "generate"): (
        "fal-ai/recraft/v3/text-to-image",
        {"prompt": PROMPT, "image_size": "landscape_16_9", "style": "realistic_image", "enable_safety_checker": True},
    ),
    ("fal/qwen-image", "generate"): ("fal-ai/qwen-image", QWEN_FAL),
    ("fal/qwen-image-edit", "edit"): (
        "fal-ai/qwen-image-edit",
        {
            "prompt": PROMPT,
            "num_images": 1,
            "image_url": IMG,
            "output_format": "png",
            "seed": 42,
            "enable_safety_checker": True,
            "sync_mode": False,
        },
    ),
    ("fal/stable-diffusion-3.5-large", "generate"): ("fal-ai/stable-diffusion-v35-large", FLUX_FAL),
    ("replicate/flux-1-schnell", "generate"): (
        "black-forest-labs/flux-schnell",
        {
            "prompt": PROMPT,
            "num_outputs": 1,
            "aspect_ratio": "16:9",
            "output_format": "png",
            "seed": 42,
            "megapixels": "1",
            "disable_safety_checker": False,
        },
    ),
    ("replicate/flux-1-dev", "generate"): (
        "black-forest-labs/flux-dev",
        {
            "prompt": PROMPT,
            "num_outputs": 1,
            "aspect_ratio": "16:9",
            "output_format": "png",
            "seed": 42,
            "megapixels": "1",
            "disable_safety_checker": False,
        },
    ),
    ("replicate/flux-1.1-pro", "generate"): (
        "black-forest-labs/flux-1.1-pro",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "output_format": "png", "seed": 42},
    ),
    ("replicate/flux-kontext-pro", "generate"): ("black-forest-labs/flux-kontext-pro", KONTEXT_R),
    ("replicate/flux-kontext-pro", "edit"): ("black-forest-labs/flux-kontext-pro", KONTEXT_R_EDIT),
    ("replicate/flux-kontext-max", "generate"): ("black-forest-labs/flux-kontext-max", KONTEXT_R),
    ("replicate/flux-kontext-max", "edit"): ("black-forest-labs/flux-kontext-max", KONTEXT_R_EDIT),
    ("replicate/flux-2-pro", "generate"): (
        "black-forest-labs/flux-2-pro",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "resolution": "1 MP", "output_format": "png", "seed": 42},
    ),
    ("replicate/flux-2-pro", "edit"): (
        "black-forest-labs/flux-2-pro",
        {
            "prompt": PROMPT,
            "input_images": [IMG],
            "aspect_ratio": "match_input_image",
            "resolution": "1 MP",
            "output_format": "png",
            "seed": 42,
        },
    ),
    ("replicate/seedream-4.0", "generate"): (
        "bytedance/seedream-4",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "size": "1K", "seed": 42, "sequential_image_generation": "disabled"},
    ),
    ("replicate/seedream-4.0", "edit"): (
        "bytedance/seedream-4",
        {
            "prompt": PROMPT,
            "image_input": [IMG],
            "aspect_ratio": "match_input_image",
            "size": "1K",
            "seed": 42,
            "sequential_image_generation": "disabled",
        },
    ),
    ("replicate/ideogram-v3", "generate"): (
        "ideogram-ai/ideogram-v3-balanced",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "seed": 42},
    ),
    ("replicate/recraft-v3", "generate"): (
        "recraft-ai/recraft-v3",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "style": "realistic_image"},
    ),
    ("replicate/qwen-image", "generate"): (
        "qwen/qwen-image",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "output_format": "png", "seed": 42, "disable_safety_checker": False},
    ),
    ("replicate/qwen-image-edit", "edit"): (
        "qwen/qwen-image-edit",
        {
            "prompt": PROMPT,
            "image": IMG,
            "aspect_ratio": "match_input_image",
            "output_format": "png",
            "seed": 42,
            "disable_safety_checker": False,
        },
    ),
    ("replicate/stable-diffusion-3.5-large", "generate"): (
        "stability-ai/stable-diffusion-3.5-large",
        {"prompt": PROMPT, "aspect_ratio": "16:9", "output_format": "png", "seed": 42},
    ),
}


def mapped_offers() -> list[Offer]:
    return [o for m in load_catalog().models() for o in m.offers if o.mapping is not None]


def test_every_mapped_offer_has_its_checks() -> None:
    """A new fal / Replicate offer comes with its expected generation (and edit, when it edits) here."""
    required = set()
    for model in load_catalog().models():
        for offer in model.offers:
            if offer.mapping is None:
                continue
            if "text-to-image" in model.tasks:
                required.add((offer.config_key, "generate"))
            if offer.capabilities.supports_edit:
                required.add((offer.config_key, "edit"))
    assert required == set(EXPECTED)
    assert {endpoint for endpoint, _ in EXPECTED.values()} <= set(schemas("fal")) | set(schemas("replicate"))


def _model_of(offer: Offer):
    return next(m for m in load_catalog().models() if offer in m.offers)


def _scrub(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("data:", "http://127.0.0.1")):
        return IMG
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _call(offer: Offer, op: str) -> ProviderCall:
    images = []
    if op == "edit":
        images = [InputImage(data=make_image(96, 64, "png", "ref"), mime_type="image/png", width=96, height=64)]
    req = ImageRequest(
        operation=op, model="m", prompt=PROMPT, images=images, seed=42, aspect_ratio=None if op == "edit" else "16:9"
    )
    return ProviderCall(
        request=req, offer=offer, spec=map_size(req, offer.capabilities), n=1, deadline=time.monotonic() + 30
    )


@pytest.fixture
async def fal_env() -> AsyncIterator[tuple[FalProvider, fal_fake.FalFakeState]]:
    state = fal_fake.FalFakeState(key=FAL_KEY)
    async with RunningFake(fal_fake.create_app(state)) as running:
        provider = FalProvider(
            ProviderSettings(name="fal", api_key=FAL_KEY, base_url=running.url), poll_schedule=(0.0,)
        )
        yield provider, state
        await provider.aclose()


@pytest.fixture
async def replicate_env() -> AsyncIterator[tuple[ReplicateProvider, replicate_fake.ReplicateFakeState]]:
    state = replicate_fake.ReplicateFakeState(api_token=R8)
    async with RunningFake(replicate_fake.create_app(state)) as running:
        provider = ReplicateProvider(
            ProviderSettings(name="replicate", api_key=R8, base_url=running.url),
            poll=PollSchedule(initial_s=0.0, cap_s=0.0),
        )
        yield provider, state
        await provider.aclose()


@pytest.mark.parametrize(("key", "op"), sorted(k for k in EXPECTED if k[0].startswith("fal/")))
async def test_fal_offer_sends_its_published_input(fal_env, key: str, op: str) -> None:
    provider, state = fal_env
    offer = next(o for o in mapped_offers() if o.config_key == key)
    result = await provider.generate(_call(offer, op))
    endpoint, body = EXPECTED[(key, op)]
    assert [(e, {k: _scrub(v) for k, v in b.items()}) for e, b in state.bodies] == [(endpoint, body)]
    assert len(result.images) == 1 and result.images[0].data
    assert result.usage.output_images == 1 and result.usage.output_megapixels >= 1


@pytest.mark.parametrize(("key", "op"), sorted(k for k in EXPECTED if k[0].startswith("replicate/")))
async def test_replicate_offer_sends_its_published_input(replicate_env, key: str, op: str) -> None:
    provider, state = replicate_env
    offer = next(o for o in mapped_offers() if o.config_key == key)
    result = await provider.generate(_call(offer, op))
    model, body = EXPECTED[(key, op)]
    assert [(m, {k: _scrub(v) for k, v in b.items()}) for m, b in state.bodies] == [(model, body)]
    assert len(result.images) == 1 and result.images[0].data


async def test_fakes_refuse_what_the_published_schema_refuses() -> None:
    fal_state = fal_fake.FalFakeState(key=FAL_KEY)
    rep_state = replicate_fake.ReplicateFakeState(api_token=R8)
    async with (
        RunningFake(fal_fake.create_app(fal_state)) as fal_run,
        RunningFake(replicate_fake.create_app(rep_state)) as rep_run,
        aiohttp.ClientSession() as http,
    ):
        async with http.post(
            f"{fal_run.url}/fal-ai/flux-1/schnell",
            headers={"Authorization": f"Key {FAL_KEY}"},
            json={"prompt": "x", "num_inference_steps": 40, "guidance_scale": 3},
        ) as resp:
            assert resp.status == 422
            locs = {tuple(d["loc"]) for d in (await resp.json())["detail"]}
            assert ("body", "num_inference_steps") in locs and ("body",) in locs  # out of range; extra field
        async with http.post(
            f"{rep_run.url}/v1/models/black-forest-labs/flux-schnell/predictions",
            headers={"Authorization": f"Bearer {R8}"},
            json={"input": {"prompt": "x", "aspect_ratio": "7:3"}},
        ) as resp:
            assert resp.status == 422
            assert "input.aspect_ratio" in {f["field"] for f in (await resp.json())["invalid_fields"]}
    assert fal_state.bodies == [] and rep_state.bodies == []
