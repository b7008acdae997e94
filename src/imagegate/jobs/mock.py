"""``X-Imagegate-Replay: mock``: a well-formed answer at once, placeholder images of the asked size and format,
cost 0, for any model name."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from imagegate.core.errors import GatewayError
from imagegate.core.types import GeneratedImage, ImageRequest
from imagegate.media.convert import normalise
from imagegate.media.formats import MIME_TYPES
from imagegate.pipeline import Gateway
from imagegate.providers.base import ProviderCall
from imagegate.providers.placeholder import PlaceholderProvider, fit_pixels, render_placeholder

_WXH = re.compile(r"^\s*(\d{1,5})\s*[xX]\s*(\d{1,5})\s*$")
DEFAULT_SIZE = (1024, 1024)


async def mock_images(gateway: Gateway, request: ImageRequest) -> tuple[str, list[GeneratedImage]]:
    """``(model id, images)``. A catalog model is sized like its placeholder offer; any other name from ``size``."""
    try:
        model, _forced = gateway.catalog.resolve(request.model)
    except GatewayError:
        model = None
    if model is not None:
        offer = gateway.catalog.placeholder_offer(model)
        spec = gateway.map_size(request, offer.capabilities)
        call = ProviderCall(request=request, offer=offer, spec=spec, n=request.n, deadline=time.monotonic() + 60)
        result = await PlaceholderProvider().generate(call)
        return model.id, result.images
    match = _WXH.match(request.size or "")
    width, height = (int(match[1]), int(match[2])) if match else DEFAULT_SIZE
    width, height = fit_pixels(width, height)
    fmt = request.output_format or "png"
    datas = await asyncio.gather(
        *(
            asyncio.to_thread(render_placeholder, request.prompt, request.seed, i, width, height, fmt, label="mock")
            for i in range(request.n)
        )
    )
    return request.model, [GeneratedImage(MIME_TYPES[fmt], data=d, width=width, height=height) for d in datas]


async def mock_body(gateway: Gateway, request: ImageRequest) -> tuple[dict[str, Any], list[GeneratedImage]]:
    """The answer's body without ``data`` (the caller renders it) and the images in the asked format, as bytes."""
    model_id, images = await mock_images(gateway, request)
    images = await normalise(
        images,
        output_format=request.output_format,
        compression=request.output_compression,
        want_b64=False,
        background=request.background,
    )
    body: dict[str, Any] = {"created": int(time.time())}
    for name in ("output_format", "size", "quality", "background"):
        value = getattr(request, name)
        if value:
            body[name] = value
    body["metadata"] = {
        "model": model_id,
        "executed_model": "mock",
        "provider": "mock",
        "provider_name": "Mock (imagegate)",
        "cost": 0.0,
        "cost_micros": 0,
        "currency": "USD",
        "request_id": request.request_id,
        "attempts": [],
        "mocked": True,
    }
    return body, images
