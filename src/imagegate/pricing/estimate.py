"""Request + offer -> expected Cost, before any provider is called (dry runs, ``max_price``, price ordering)."""

from __future__ import annotations

import dataclasses
import math

from imagegate.catalog.schema import Offer
from imagegate.core.types import Cost, ImageRequest, RenderSpec, Usage
from imagegate.pricing.cost import cost, output_tokens_per_image
from imagegate.pricing.select import effective_resolution


def estimate(request: ImageRequest, offer: Offer, spec: RenderSpec, *, n: int | None = None) -> Cost:
    """Expected cost of ``n`` images (default ``request.n``) from ``offer`` rendered as ``spec``.

    Token-priced offers use the offer's estimate hints: prompt characters / ``chars_per_token`` input text tokens,
    ``input_image_tokens`` per reference image, ``output_image_tokens`` per output image. Per-image offers are
    ``n`` times their unit price. The result is marked ``estimated``.
    """
    count = request.n if n is None else n
    hints = offer.estimate
    resolution = effective_resolution(offer, spec.resolution)
    size = f"{spec.width}x{spec.height}" if spec.width and spec.height else None
    per_image = output_tokens_per_image(hints, resolution=resolution, quality=request.quality, size=size)
    prompt_tokens = math.ceil(len(request.prompt) / hints.chars_per_token) if request.prompt else 0
    usage = Usage(
        input_text_tokens=prompt_tokens,
        input_image_tokens=len(request.images) * hints.input_image_tokens,
        output_image_tokens=count * per_image,
        input_images=len(request.images),
        output_images=count,
        reported=True,  # counts are final: no second fill from hints
    )
    result = cost(usage, offer, resolution=resolution, batch=request.batch)
    return dataclasses.replace(result, estimated=True)
