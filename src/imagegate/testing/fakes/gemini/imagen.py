"""Imagen 4 on the fake Google APIs: ``POST .../models/{imagen model}:predict`` (Gemini API and Vertex AI).

Validates as Google does: ``instances`` is one ``{"prompt"}``; ``parameters`` holds only known keys (Vertex takes
more than the Gemini API: seed, negativePrompt, outputOptions, addWatermark, ...), ``sampleCount`` 1-4 (Ultra: 1),
``aspectRatio`` one of five, ``sampleImageSize`` 1K/2K where the model has 2K, and a seed only without the
watermark. Answers ``{"predictions": [{"bytesBase64Encoded", "mimeType"}]}`` with real image bytes of the size asked;
the ``content_policy`` fault answers a ``raiFilteredReason`` instead.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import orjson
from aiohttp import web

from imagegate.media.sizes import pixel_size
from imagegate.testing.fakes.common import make_image, send_body, with_faults
from imagegate.testing.fakes.gemini.state import (
    GoogleFakeState,
    invalid_argument,
    overloaded,
    rate_limited,
    server_error,
)
from imagegate.testing.faults import Decision, FaultInjector

# model -> (max sampleCount, image sizes)
IMAGEN: dict[str, tuple[int, tuple[str, ...]]] = {
    "imagen-4.0-fast-generate-001": (4, ("1K",)),
    "imagen-4.0-generate-001": (4, ("1K", "2K")),
    "imagen-4.0-ultra-generate-001": (1, ("1K", "2K")),
}
RATIOS = ("1:1", "3:4", "4:3", "9:16", "16:9")
GEMINI_PARAMS = {
    "sampleCount",
    "aspectRatio",
    "sampleImageSize",
    "personGeneration",
    "includeRaiReason",
    "includeSafetyAttributes",
    "language",
    "imageSize",
}
VERTEX_PARAMS = GEMINI_PARAMS | {
    "seed",
    "negativePrompt",
    "outputOptions",
    "addWatermark",
    "enhancePrompt",
    "safetySetting",
    "guidanceScale",
    "storageUri",
}
RAI_REASON = "Your current safety filter threshold filtered out the prompt. (RAI_FILTERED)"


def check(body: Any, model: str, *, vertex: bool) -> str | None:
    """The INVALID_ARGUMENT message for a bad body, or None."""
    if not isinstance(body, dict):
        return "Invalid JSON payload received."
    extra = set(body) - {"instances", "parameters", "labels"}
    if extra:
        return f'Invalid JSON payload received. Unknown name "{sorted(extra)[0]}": Cannot find field.'
    instances = body.get("instances")
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return "instances must hold exactly one instance."
    prompt = instances[0].get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return "The prompt is empty."
    if set(instances[0]) - {"prompt"}:
        return "Imagen 4 takes only a prompt in an instance."
    params = body.get("parameters", {})
    if not isinstance(params, dict):
        return "parameters must be an object."
    unknown = set(params) - (VERTEX_PARAMS if vertex else GEMINI_PARAMS)
    if unknown:
        return f"Invalid JSON payload received. Unknown name \"{sorted(unknown)[0]}\" at 'parameters'."
    max_n, sizes = IMAGEN[model]
    n = params.get("sampleCount", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= max_n:
        return f"sampleCount must be between 1 and {max_n}."
    if params.get("aspectRatio", "1:1") not in RATIOS:
        return f"Unsupported aspect ratio: {params.get('aspectRatio')}. Supported: {', '.join(RATIOS)}."
    if params.get("sampleImageSize", "1K") not in sizes:
        return f"sampleImageSize must be one of {', '.join(sizes)} for {model}."
    if "seed" in params and params.get("addWatermark", True):
        return "Seed is not supported when watermark is enabled."
    return None


async def predict(request: web.Request, state: GoogleFakeState, model: str, *, vertex: bool) -> web.StreamResponse:
    record: dict[str, Any] = {
        "api": "vertex" if vertex else "gemini",
        "model": model,
        "method": "predict",
        "path": request.path,
        "query": dict(request.query),
        "body": None,
        "request": None,
    }
    state.seen.append(record)
    try:
        record["body"] = body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return invalid_argument("Invalid JSON payload received. Unexpected token.")
    problem = check(body, model, vertex=vertex)
    if problem is not None:
        return invalid_argument(problem)
    params = body.get("parameters", {})

    def render_fault(kind: str, injector: FaultInjector) -> web.StreamResponse:
        if kind == "rate_limited":
            return rate_limited(injector.profile.retry_after_s, vertex)
        if kind == "unavailable":
            return overloaded()
        if kind == "content_policy":
            return web.json_response({"predictions": [{"raiFilteredReason": RAI_REASON}]})
        if kind == "malformed":
            return web.Response(body=b'{"predictions": [{"bytesBase64', content_type="application/json")
        return server_error()

    async def handler(decision: Decision) -> web.StreamResponse:
        width, height = pixel_size(params.get("aspectRatio", "1:1"), params.get("sampleImageSize", "1K"))
        mime = (params.get("outputOptions") or {}).get("mimeType", "image/png")
        fmt = "jpeg" if mime == "image/jpeg" else "png"
        images = await asyncio.gather(
            *(
                asyncio.to_thread(make_image, width, height, fmt, f"{body['instances'][0]['prompt']}#{i}")
                for i in range(params.get("sampleCount", 1))
            )
        )
        predictions = [{"bytesBase64Encoded": base64.b64encode(data).decode(), "mimeType": mime} for data in images]
        return await send_body(request, orjson.dumps({"predictions": predictions}), decision=decision)

    return await with_faults(request, state, render_fault, handler)
