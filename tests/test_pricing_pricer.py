"""``Pricer`` (plans and estimate totals kept between requests) and ``PricePlan``: same answers as the plain
functions, caches keyed by the offer's identity (never by an id alone) and bounded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pytest

from imagegate.catalog import load_catalog
from imagegate.catalog.schema import EstimateHints, Offer, PriceComponent, Pricing
from imagegate.core.types import ImageRequest, InputImage, RenderSpec, Usage
from imagegate.pricing import PricePlan, Pricer, cost, estimate, micros
from imagegate.pricing.plan import Rate

METRICS = ("token", "token_text", "token_image", "image")


def random_offer(rng: random.Random) -> Offer:
    comps = []
    for _ in range(rng.randint(1, 8)):
        cond: dict[str, object] = {}
        if rng.random() < 0.3:
            cond["cached"] = rng.random() < 0.7
        if rng.random() < 0.3:
            cond["batch"] = rng.random() < 0.7
        if rng.random() < 0.4:
            cond["resolution"] = rng.choice(["1K", "2K", "4K", "1K/2K", "2k/4K"])
        comps.append(PriceComponent(
            type=rng.choice(["input", "output"]), metric=rng.choice(METRICS), unit_size=rng.choice([1, 1000, 10**6, 7]),
            unit_price=rng.choice([0.1, 0.134, 2, 12, 0.30000000000000004, 1 / 3, 0.0011, 0]), conditions=cond,
        ))  # fmt: skip
    hints = EstimateHints(
        output_image_tokens=rng.choice([{}, {"1K": 1120, "4K": 2000}, {"high:1024x1024": 4160, "low:1024x1024": 272}]),
        input_image_tokens=rng.choice([0, 560]),
        chars_per_token=rng.choice([4.0, 3.5]),
    )
    return Offer(
        provider="acme", provider_name="Acme", provider_model_id="m", config_key="acme/m", estimate=hints,
        pricing=Pricing(components=tuple(comps), source_url="https://acme.example", effective_at=dt.date(2025, 1, 1)),
    )  # fmt: skip


def random_usage(rng: random.Random) -> Usage:
    return Usage(
        input_text_tokens=rng.choice([0, rng.randint(0, 5000)]),
        input_image_tokens=rng.choice([0, rng.randint(0, 3000)]),
        cached_input_tokens=rng.choice([0, 0, rng.randint(-5, 4000)]),
        output_text_tokens=rng.choice([0, rng.randint(0, 3000)]),
        output_image_tokens=rng.choice([0, 1120, 2000, rng.randint(0, 9000)]),
        input_images=rng.randint(0, 3),
        output_images=rng.randint(0, 4),
        reported=rng.random() < 0.5,
    )


@pytest.fixture(scope="module")
def offers() -> list[Offer]:
    """Nano Banana Pro's four offers (gemini, vertex, replicate, fal) first, then every other offer and random ones."""
    rng = random.Random(11)
    models = sorted(load_catalog().models(), key=lambda m: m.id != "gemini-3-pro-image-preview")
    return [o for m in models for o in m.offers] + [random_offer(rng) for _ in range(40)]


def test_pricer_matches_the_plain_functions(offers) -> None:
    rng = random.Random(5)
    pricer = Pricer(max_entries=16)  # small: the caches fill and clear many times
    image = InputImage(data=b"", mime_type="image/png", width=1, height=1)
    for _ in range(3000):
        offer = rng.choice(offers)
        resolution = rng.choice([None, "auto", "1K", "2k", "4K"])
        batch = rng.random() < 0.3
        usage = random_usage(rng)
        assert pricer.cost(usage, offer, resolution=resolution, batch=batch) == cost(
            usage, offer, resolution=resolution, batch=batch
        )
        request = ImageRequest(
            operation="generate", model="m", prompt="p" * rng.randint(0, 300), n=rng.randint(1, 4),
            quality=rng.choice([None, "high", "auto"]), batch=batch, images=[image] * rng.randint(0, 2),
        )  # fmt: skip
        spec = RenderSpec(None, resolution, rng.choice([0, 1024, 1536]), rng.choice([0, 1024]))
        n = rng.choice([None, 3])
        expected = estimate(request, offer, spec, n=n)
        assert pricer.estimate(request, offer, spec, n=n) == expected
        assert pricer.estimate_micros(request, offer, spec, n=n) == expected.total_micros


def test_plans_and_estimates_are_kept_per_offer_and_shape(offers) -> None:
    pricer = Pricer()
    gemini, fal = offers[0], offers[3]
    assert pricer.plan(gemini, "2K") is pricer.plan(gemini, "2K")
    assert pricer.plan(gemini, "2K") is not pricer.plan(gemini, "4K")
    assert pricer.plan(gemini, "2K", batch=True) is not pricer.plan(gemini, "2K")
    assert pricer.plan(fal, "2K") is not pricer.plan(gemini, "2K")
    assert pricer.plan(gemini, None).resolution == pricer.plan(gemini, "auto").resolution == "1K"
    request = ImageRequest(operation="generate", model="m", prompt="a red fox")
    spec = RenderSpec("1:1", "4K", 4096, 4096)
    first = pricer.estimate(request, gemini, spec)
    first.components.clear()  # a caller may change what it got: later answers are not affected
    assert pricer.estimate(request, gemini, spec).components
    assert pricer.estimate_micros(request, gemini, spec) == 240_000 + micros(3, 2, 1_000_000)
    longer = dataclasses.replace(request, prompt="a red fox " * 400)  # more prompt tokens: another entry
    assert pricer.estimate_micros(longer, gemini, spec) > pricer.estimate_micros(request, gemini, spec)
    assert pricer.estimate_micros(request, gemini, spec, n=2) == 480_000 + micros(3, 2, 1_000_000)


def test_an_equal_but_distinct_offer_never_gets_another_offers_entry(offers) -> None:
    """Entries hold their offer and are used only for that very object (an id can be reused after a free)."""
    pricer = Pricer()
    gemini = offers[0]
    plan = pricer.plan(gemini, "2K")
    pricer._plans[(id(offers[1]), "2K", False)] = plan  # as if offers[1] reused the id of a freed offer
    assert pricer.plan(offers[1], "2K").offer is offers[1]
    request = ImageRequest(operation="generate", model="m", prompt="x")
    spec = RenderSpec("1:1", "2K", 2048, 2048)
    key = next(iter(pricer._estimates), None)
    assert key is None
    pricer.estimate_micros(request, offers[2], spec)  # replicate: per image
    ((key, (owner, total)),) = pricer._estimates.items()
    assert owner is offers[2] and total == 150_000
    pricer._estimates[(id(gemini), *key[1:])] = (offers[2], 1)  # a stale entry under gemini's id
    assert pricer.estimate_micros(request, gemini, spec) == 134_400 + micros(1, 2, 1_000_000)


def test_caches_are_bounded(offers) -> None:
    pricer = Pricer(max_entries=4)
    request = ImageRequest(operation="generate", model="m", prompt="x")
    for i in range(50):
        spec = RenderSpec(None, "1K", 1, 1)
        pricer.estimate_micros(dataclasses.replace(request, prompt="x" * i * 8), offers[0], spec)
        pricer.plan(offers[i % len(offers)], "1K")
        assert len(pricer._estimates) <= 4 and len(pricer._plans) <= 4


def test_rate_micros_is_micros_and_its_memory_is_bounded() -> None:
    comp = PriceComponent(type="output", metric="token_image", unit_size=1_000_000, unit_price=0.30000000000000004)
    rate = Rate(comp)
    for q in [0, 1, 7, 1120, 2000, 10**9, 123_456_789_012, *range(5000)]:
        assert rate.micros(q) == micros(q, comp.unit_price, comp.unit_size)
    assert len(rate._memo) <= 4096
    assert rate.micros(2.5) == micros(2.5, comp.unit_price, comp.unit_size)  # a float quantity, priced as before


def test_a_plan_fills_unreported_image_tokens_from_hints(offers) -> None:
    gemini = offers[0]
    plan = PricePlan(gemini, "4K", False)
    c = plan.cost(Usage(output_images=2, input_images=1))
    assert c.estimated and c.total_micros == 480_000 + micros(560, 2, 1_000_000)
    assert not plan.cost(Usage(output_images=1, output_image_tokens=2000, reported=True)).estimated
    assert plan.cost(Usage(output_images=1, output_image_tokens=2000, reported=True), estimated=True).estimated
