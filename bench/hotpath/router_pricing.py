"""Micro-benchmark of the per-request CPU of routing and pricing (issue 5).

Times, with ``time.process_time``, N iterations of:
- ``route``: ``Router.run`` over the 4 Nano Banana Pro offers (gemini, vertex, replicate, fal) with
  ``MemoryRouterState`` and the system clock; the attempt function returns a prebuilt ``ImageResult`` at once (no
  ``cost_of``: pricing is timed apart). Includes the snapshot, ordering, the attempt loop and the record.
- ``price``: ``estimate`` for the 4 offers (what ``Gateway.plan`` does) + ``cost`` of one Gemini-shaped result,
  through the router's ``Pricer`` when it has one (as the gateway does), else the plain functions. Prompts (64
  lengths) and usages (1,000 text-token counts) vary between iterations, as real traffic does.
- ``estimate`` and ``cost`` alone, per call.

To time an older checkout with this same script: ``git archive <commit> src | tar -x -C /tmp/old`` and run it with
``PYTHONPATH=/tmp/old/src``.

    .venv/bin/python bench/hotpath/router_pricing.py              # 20,000 iterations, best of 3 rounds
    .venv/bin/python bench/hotpath/router_pricing.py -n 5000 --rounds 1
    .venv/bin/python bench/hotpath/router_pricing.py --no-history   # route with an empty health window

By default the state first gets five minutes of history for every offer (a full health window), as a gateway that
has been serving for a while has.

Not collected by pytest (no ``test_`` prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import random
import time
from collections.abc import Callable

from imagegate.catalog.loader import load_catalog
from imagegate.catalog.schema import Offer
from imagegate.core.types import GeneratedImage, ImageRequest, ImageResult, RenderSpec, Usage
from imagegate.media.sizes import map_size
from imagegate.pricing import cost, estimate
from imagegate.router import AttemptContext, Candidate, MemoryRouterState, Router, RouterConfig

MODEL = "gemini-3-pro-image-preview"
PROMPT = "A cozy indie bookstore storefront with a hand-painted sign; a small capybara reads a tiny newspaper."


def setup() -> tuple[ImageRequest, list[Offer], list[RenderSpec], ImageResult]:
    model = load_catalog().get(MODEL)
    assert model is not None and len(model.offers) == 4
    request = ImageRequest(operation="generate", model="nano-banana-pro", prompt=PROMPT, resolution="2K")
    specs = [map_size(request, o.capabilities) for o in model.offers]
    usage = Usage(input_text_tokens=27, output_text_tokens=180, output_image_tokens=1120, output_images=1,
                  reported=True)  # fmt: skip
    result = ImageResult(images=[GeneratedImage(mime_type="image/png", b64="iVBORw0KGgo=" * 170)], usage=usage)
    return request, list(model.offers), specs, result


def per_call_us(fn: Callable[[], object], n: int, calls_per_iter: int = 1) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / (n * calls_per_iter) * 1e6


async def route_us(n: int, request: ImageRequest, offers: list[Offer], specs: list[RenderSpec],
                   result: ImageResult, history: bool = True) -> float:  # fmt: skip
    router = Router(MemoryRouterState(), RouterConfig())
    if history:
        await seed_history(router, [o.provider for o in offers])
    candidates = [
        Candidate(offer=o, estimated_cost_micros=estimate(request, o, s).total_micros)
        for o, s in zip(offers, specs, strict=True)
    ]

    async def attempt(candidate: Candidate, ctx: AttemptContext) -> ImageResult:
        return result

    async def one() -> None:
        await router.run(MODEL, candidates, attempt, deadline=router.clock.now() + 300)

    for _ in range(200):
        await one()
    start = time.process_time()
    for _ in range(n):
        await one()
    return (time.process_time() - start) / n * 1e6


async def seed_history(router: Router, providers: list[str]) -> None:
    """Five minutes of history for every offer (one outcome a second each, latencies 4-40 s, 1 in 20 failed),
    so the health window is full, as in a gateway that has been serving for a while."""
    rng = random.Random(5)
    now = time.time()
    for age in range(299, -1, -1):
        for p in providers:
            ok = rng.random() > 0.05
            await router.state.record(MODEL, p, ok, rng.uniform(4.0, 40.0), now - age, router.params)


def pricing_fns(router: Router) -> tuple[Callable[..., object], Callable[..., object]]:
    """(estimate, cost) as the gateway calls them: a ``Pricer`` (it keeps plans and estimate totals; the router held
    it until issue 9, the ``Gateway`` since), else the plain functions (before the ``Pricer`` existed)."""
    pricer = getattr(router, "pricer", None)
    if pricer is None:
        try:
            from imagegate.pricing import Pricer
        except ImportError:
            return (lambda r, o, s: estimate(r, o, s).total_micros), cost
        pricer = Pricer()
    return pricer.estimate_micros, pricer.cost


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-history", action="store_true", help="route with an empty health window")
    args = ap.parse_args()
    request, offers, specs, result = setup()
    rng = random.Random(7)  # prompts of varied length and usages with varied text tokens, as real traffic has
    requests = [dataclasses.replace(request, prompt=PROMPT[: rng.randint(20, len(PROMPT))]) for _ in range(64)]
    usages = [
        dataclasses.replace(result.usage, input_text_tokens=rng.randint(5, 30), output_text_tokens=rng.randint(0, 900))
        for _ in range(1000)
    ]
    pairs = list(zip(offers, specs, strict=True))
    est_fn, cost_fn = pricing_fns(Router(MemoryRouterState()))
    rounds: dict[str, list[float]] = {"route": [], "price": [], "estimate": [], "cost": []}
    it = [0]

    def price() -> None:
        i = it[0] = it[0] + 1
        req = requests[i % 64]
        for o, s in pairs:
            est_fn(req, o, s)
        cost_fn(usages[i % 1000], offers[0], resolution=specs[0].resolution)

    def est() -> None:
        i = it[0] = it[0] + 1
        req = requests[i % 64]
        for o, s in pairs:
            est_fn(req, o, s)

    def one_cost() -> None:
        i = it[0] = it[0] + 1
        cost_fn(usages[i % 1000], offers[0], resolution=specs[0].resolution)

    for _ in range(args.rounds):
        rounds["route"].append(asyncio.run(route_us(args.n, request, offers, specs, result, not args.no_history)))
        rounds["price"].append(per_call_us(price, args.n))
        rounds["estimate"].append(per_call_us(est, args.n, len(pairs)))
        rounds["cost"].append(per_call_us(one_cost, args.n))
    print(f"N={args.n}, best of {args.rounds} round(s), CPU microseconds (time.process_time):")
    labels = {
        "route": f"Router.run, 4 offers, MemoryRouterState{' (empty)' if args.no_history else ''} (per request)",
        "price": "estimate x 4 offers + cost x 1 (per request)",
        "estimate": "estimate (per call)",
        "cost": "cost (per call)",
    }
    for key, label in labels.items():
        print(f"  {label:<58} {min(rounds[key]):8.1f} us")


if __name__ == "__main__":
    main()
