"""Request + offer -> expected Cost, before any provider is called (dry runs, ``max_price``, price ordering)."""

from __future__ import annotations

import math

from imagegate.catalog.schema import Offer
from imagegate.core.types import Cost, ImageRequest, RenderSpec, Usage, billed_megapixels
from imagegate.pricing.hints import output_tokens_per_image
from imagegate.pricing.plan import PricePlan
from imagegate.pricing.select import effective_resolution


def estimate(request: ImageRequest, offer: Offer, spec: RenderSpec, *, n: int | None = None) -> Cost:
    """Expected cost of ``n`` images (default ``request.n``) from ``offer`` rendered as ``spec``.

    Token-priced offers use the offer's estimate hints: prompt characters / ``chars_per_token`` input text tokens,
    ``input_image_tokens`` per reference image, ``output_image_tokens`` per output image. Per-image offers are
    ``n`` times their unit price. The result is marked ``estimated``.
    """
    resolution = effective_resolution(offer, spec.resolution)
    usage = estimate_usage(request, offer, spec, resolution, request.n if n is None else n)
    return PricePlan(offer, resolution, request.batch).cost(usage, estimated=True)


def prompt_tokens(request: ImageRequest, offer: Offer) -> int:
    """Input text tokens expected for the prompt: characters / the offer's ``chars_per_token``, rounded up."""
    return math.ceil(len(request.prompt) / offer.estimate.chars_per_token) if request.prompt else 0


def estimate_usage(request: ImageRequest, offer: Offer, spec: RenderSpec, resolution: str | None, count: int) -> Usage:
    """The usage ``count`` images of ``request`` are expected to report (``resolution`` already effective)."""
    hints = offer.estimate
    size = f"{spec.width}x{spec.height}" if spec.width and spec.height else None
    per_image = output_tokens_per_image(hints, resolution=resolution, quality=request.quality, size=size)
    return Usage(
        input_text_tokens=prompt_tokens(request, offer),
        input_image_tokens=len(request.images) * hints.input_image_tokens,
        output_image_tokens=count * per_image,
        input_images=len(request.images),
        output_images=count,
        output_megapixels=count * billed_megapixels(spec.width, spec.height),
        gpu_ms=count * hints.gpu_ms_per_image,
        reported=True,  # counts are final: no second fill from hints
    )
