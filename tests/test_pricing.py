"""Pricing: the seed page's own figures, the selection rules, estimates and the dry-run body."""

from __future__ import annotations

import datetime as dt

import pytest

from imagegate.catalog import Catalog, load_catalog
from imagegate.catalog.schema import Offer, PriceComponent, Pricing
from imagegate.core.types import ImageRequest, InputImage, RenderSpec, Usage
from imagegate.pricing import cost, dry_run_body, estimate, micros, output_tokens_per_image


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def offer_of(catalog: Catalog, model: str, provider: str) -> Offer:
    m = catalog.get(model)
    assert m is not None
    o = m.offer(provider)
    assert o is not None
    return o


def synthetic(*components: dict) -> Offer:
    return Offer(
        provider="acme",
        provider_name="Acme",
        provider_model_id="m",
        config_key="acme/m",
        pricing=Pricing(
            components=tuple(PriceComponent.model_validate(c) for c in components),
            source_url="https://acme.example",
            effective_at=dt.date(2025, 1, 1),
        ),
    )


def lines(c) -> list[tuple]:
    return [(x.type, x.metric, x.quantity, x.unit_price, x.total_cost_micros) for x in c.components]


GOOGLE = ("gemini", "vertex")


# --------------------------------------------------------------------------- the seed's figures


@pytest.mark.parametrize("provider", GOOGLE)
@pytest.mark.parametrize(
    ("resolution", "tokens", "expected"), [("1K", 1120, 134_400), ("2K", 1120, 134_400), ("4K", 2000, 240_000)]
)
def test_google_output_image(catalog, provider, resolution, tokens, expected) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", provider)
    c = cost(Usage(output_image_tokens=tokens, output_images=1, reported=True), offer, resolution=resolution)
    assert c.total_micros == expected
    assert lines(c) == [("output", "token_image", tokens, 120, expected)]
    assert not c.estimated


@pytest.mark.parametrize("provider", GOOGLE)
def test_google_input_image(catalog, provider) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", provider)
    c = cost(Usage(input_image_tokens=560, input_images=1, reported=True), offer, resolution="1K")
    assert c.total_micros == 1_120
    assert lines(c) == [("input", "token", 560, 2, 1_120)]


@pytest.mark.parametrize("provider", ["replicate", "fal"])
@pytest.mark.parametrize(
    ("resolution", "expected"),
    [("1K", 150_000), ("2K", 150_000), ("4K", 300_000), (None, 150_000), ("4k", 300_000), ("auto", 150_000)],
)
def test_per_image_offers(catalog, provider, resolution, expected) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", provider)
    c = cost(Usage(output_images=1), offer, resolution=resolution)
    assert c.total_micros == expected
    assert len(c.components) == 1 and c.components[0].metric == "image"
    assert cost(Usage(output_images=3), offer, resolution=resolution).total_micros == 3 * expected


@pytest.mark.parametrize("provider", GOOGLE)
@pytest.mark.parametrize(("resolution", "expected"), [("1K", 67_000), ("2K", 67_000), ("4K", 120_000)])
def test_google_batch_per_image(catalog, provider, resolution, expected) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", provider)
    tokens = 2000 if resolution == "4K" else 1120
    usage = Usage(output_image_tokens=tokens, output_images=1, reported=True)
    c = cost(usage, offer, resolution=resolution, batch=True)
    # the per-image price replaces the image tokens: they are not billed again at the batch token price
    assert c.total_micros == expected
    assert lines(c) == [("output", "image", 1, expected / 1_000_000, expected)]


def test_google_batch_tokens(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    usage = Usage(
        input_text_tokens=1000,
        input_image_tokens=560,
        output_text_tokens=500,
        output_image_tokens=1120,
        input_images=1,
        output_images=1,
        reported=True,
    )
    c = cost(usage, offer, resolution="2K", batch=True)
    assert lines(c) == [
        ("input", "token", 1560, 1, 1_560),  # $1/M on text and image input tokens
        ("output", "image", 1, 0.067, 67_000),
        ("output", "token", 500, 6, 3_000),  # $6/M on the remaining (text) output tokens
    ]
    assert c.total_micros == 71_560


def test_cached_input_tokens(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "vertex")
    usage = Usage(input_text_tokens=10_000, input_image_tokens=560, cached_input_tokens=4_000, reported=True)
    c = cost(usage, offer, resolution="1K")
    assert lines(c) == [("input", "token", 6_560, 2, 13_120), ("input", "token", 4_000, 0.2, 800)]
    assert c.total_micros == 13_920


def test_cached_tokens_in_batch_use_batch_price(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    usage = Usage(input_text_tokens=1_000, cached_input_tokens=400, reported=True)
    assert lines(cost(usage, offer, resolution="1K", batch=True)) == [("input", "token", 1_000, 1, 1_000)]


def test_thinking_tokens_billed_as_output_text(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    usage = Usage(output_text_tokens=1_000, thoughts_tokens=800, reported=True)
    c = cost(usage, offer, resolution="1K")
    assert lines(c) == [("output", "token_text", 1_000, 12, 12_000)]


def test_realistic_gemini_response(catalog) -> None:
    # usageMetadata of the reference response: 147 prompt tokens, 1120 image tokens, 215 thought tokens
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    usage = Usage(
        input_text_tokens=147,
        output_text_tokens=215,
        thoughts_tokens=215,
        output_image_tokens=1120,
        output_images=1,
        reported=True,
    )
    c = cost(usage, offer, resolution="1K")
    assert c.total_micros == 294 + 2_580 + 134_400
    assert sum(x.total_cost_micros for x in c.components) == c.total_micros


@pytest.mark.parametrize(("resolution", "expected"), [("2K", 134_400), ("4K", 240_000), (None, 134_400)])
def test_unreported_usage_falls_back_to_hints(catalog, resolution, expected) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    c = cost(Usage(output_images=1, input_images=2), offer, resolution=resolution)
    assert c.total_micros == expected + 2 * 1_120
    assert c.estimated


def test_unreported_usage_on_per_image_offer_is_exact(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "replicate")
    c = cost(Usage(output_images=2, input_images=3), offer, resolution="2K")
    assert (c.total_micros, c.estimated) == (300_000, False)


def test_other_models(catalog) -> None:
    flash = offer_of(catalog, "gemini-2.5-flash-image", "gemini")
    usage = Usage(input_text_tokens=100, output_image_tokens=1290, output_images=1, reported=True)
    assert cost(usage, flash, resolution=None).total_micros == 30 + 38_700
    assert cost(usage, flash, resolution=None, batch=True).total_micros == 15 + 19_350
    gpt = offer_of(catalog, "gpt-image-1", "openai")
    usage = Usage(
        input_text_tokens=50, input_image_tokens=323, output_image_tokens=4160, output_images=1, reported=True
    )
    assert lines(cost(usage, gpt, resolution=None)) == [
        ("input", "token_text", 50, 5, 250),
        ("input", "token_image", 323, 10, 3_230),
        ("output", "token_image", 4160, 40, 166_400),
    ]


# --------------------------------------------------------------------------- selection rules


def test_most_specific_resolution_wins() -> None:
    offer = synthetic(
        {"type": "output", "metric": "image", "unit_price": 1},
        {"type": "output", "metric": "image", "unit_price": 2, "conditions": {"resolution": "1K/2K/4K"}},
        {"type": "output", "metric": "image", "unit_price": 3, "conditions": {"resolution": "2K"}},
    )
    usage = Usage(output_images=1)
    assert cost(usage, offer, resolution="2K").total_micros == 3_000_000
    assert cost(usage, offer, resolution="4K").total_micros == 2_000_000
    assert cost(usage, offer, resolution="0.5K").total_micros == 1_000_000


def test_specific_token_metric_beats_generic() -> None:
    offer = synthetic(
        {"type": "output", "metric": "token", "unit_size": 1000, "unit_price": 1},
        {"type": "output", "metric": "token_image", "unit_size": 1000, "unit_price": 10},
    )
    c = cost(Usage(output_text_tokens=1000, output_image_tokens=1000, reported=True), offer, resolution=None)
    assert lines(c) == [("output", "token", 1000, 1, 1_000_000), ("output", "token_image", 1000, 10, 10_000_000)]


def test_batch_on_offer_without_batch_prices_uses_normal_prices(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "fal")
    assert cost(Usage(output_images=1), offer, resolution="4K", batch=True).total_micros == 300_000


def test_rounding_half_up_per_component() -> None:
    assert micros(1, 0.0000005) == 1
    assert micros(1, 0.0000025) == 3
    assert micros(1, 0.0000024) == 2
    assert micros(1120, 120, 1_000_000) == 134_400
    offer = synthetic(
        {"type": "input", "metric": "token_text", "unit_size": 1_000_000, "unit_price": 0.5},
        {"type": "input", "metric": "token_image", "unit_size": 1_000_000, "unit_price": 0.5},
    )
    # each component is 0.5 micro -> rounds to 1 on its own; the total is the sum of the rounded parts
    c = cost(Usage(input_text_tokens=1, input_image_tokens=1, reported=True), offer, resolution=None)
    assert [x.total_cost_micros for x in c.components] == [1, 1] and c.total_micros == 2


def test_zero_usage_costs_nothing(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    c = cost(Usage(reported=True), offer, resolution="1K")
    assert (c.total_micros, c.components) == (0, [])


# --------------------------------------------------------------------------- estimates


def spec(resolution: str | None, width: int = 1024, height: int = 1024) -> RenderSpec:
    return RenderSpec(aspect_ratio="1:1", resolution=resolution, width=width, height=height)


def image() -> InputImage:
    return InputImage(data=b"", mime_type="image/png", width=1024, height=1024)


def test_estimate_token_offer(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "vertex")
    request = ImageRequest(operation="edit", model="nano-banana-pro", prompt="x" * 401, n=2, images=[image(), image()])
    c = estimate(request, offer, spec("4K"))
    # 101 text tokens + 2 x 560 image tokens at $2/M; 2 x 2000 image tokens at $120/M
    assert c.estimated
    assert lines(c) == [("input", "token", 1_221, 2, 2_442), ("output", "token_image", 4_000, 120, 480_000)]
    assert estimate(request, offer, spec("1K"), n=1).total_micros == 2_442 + 134_400


def test_estimate_per_image_and_batch(catalog) -> None:
    request = ImageRequest(operation="generate", model="nano-banana-pro", prompt="a cat", n=3)
    assert estimate(request, offer_of(catalog, "gemini-3-pro-image-preview", "fal"), spec("4K")).total_micros == 900_000
    replicate = offer_of(catalog, "gemini-3-pro-image-preview", "replicate")
    assert estimate(request, replicate, spec(None)).total_micros == 450_000
    request.batch = True
    gemini = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    assert estimate(request, gemini, spec("2K")).total_micros == 2 + 3 * 67_000  # 2 prompt tokens at $1/M


def test_estimate_gpt_image_quality_and_size(catalog) -> None:
    offer = offer_of(catalog, "gpt-image-1", "openai")
    request = ImageRequest(operation="generate", model="gpt-image-1", prompt="abcd", quality="high")  # 1 token, $5/M
    assert estimate(request, offer, spec(None)).total_micros == 5 + 166_400
    request.quality = "low"
    assert estimate(request, offer, spec(None, 1536, 1024)).total_micros == 5 + 408 * 40
    request.quality = "auto"  # open quality: the most expensive tier for that size
    assert estimate(request, offer, spec(None, 1024, 1536)).total_micros == 5 + 6208 * 40


def test_output_tokens_lookup() -> None:
    from imagegate.catalog.schema import EstimateHints

    hints = EstimateHints(output_image_tokens={"1K": 1120, "4K": 2000})
    assert output_tokens_per_image(hints, resolution="1K") == 1120
    assert output_tokens_per_image(hints, resolution="8K") == 2000  # unknown tier: err high
    assert output_tokens_per_image(EstimateHints(), resolution="1K") == 0


# --------------------------------------------------------------------------- dry run


def test_dry_run_body_shape(catalog) -> None:
    offer = offer_of(catalog, "gemini-3-pro-image-preview", "gemini")
    request = ImageRequest(operation="generate", model="nano-banana-pro", prompt="p" * 8)
    body = dry_run_body("gemini-3-pro-image-preview", offer, estimate(request, offer, spec("2K")))
    assert body == {
        "estimated": True,
        "model": "gemini-3-pro-image-preview",
        "provider": "gemini",
        "total_cost_micros": 134_404,
        "currency": "USD",
        "components": [
            {
                "type": "input",
                "metric": "token",
                "quantity": 2,
                "billable_quantity": 2e-06,
                "unit_price": 2,
                "total_cost": 4,
            },
            {
                "type": "output",
                "metric": "token_image",
                "quantity": 1120,
                "billable_quantity": 0.00112,
                "unit_price": 120,
                "total_cost": 134_400,
            },
        ],
    }
