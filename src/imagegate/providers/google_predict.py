"""Imagen on the Gemini API and Vertex AI: ``POST .../models/{model}:predict`` (not ``generateContent``).

Offers say ``options: {api: predict}``. Request (what google-genai's ``models.generate_images`` sends):
``{"instances": [{"prompt"}], "parameters": {"sampleCount", "aspectRatio", "sampleImageSize", ...}}``;
Vertex also takes ``seed``, ``negativePrompt``, ``outputOptions {mimeType}``, ``addWatermark``, ``enhancePrompt``
(a seed needs ``addWatermark: false``). Response: ``{"predictions": [{"bytesBase64Encoded", "mimeType"} |
{"raiFilteredReason"}]}``: when every image was filtered the call is a ``ContentPolicy`` refusal.
Usage is per image (Imagen is priced per output image).
"""

from __future__ import annotations

from typing import Any

from imagegate.core.errors import BadResponse, ContentPolicy
from imagegate.core.types import GeneratedImage, ImageResult, Usage
from imagegate.media.formats import png_size
from imagegate.providers.base import ProviderCall
from imagegate.providers.google_common import camel, raise_for_status
from imagegate.providers.http import UpstreamResponse

# request.extra keys sent as Imagen parameters (snake_case or camelCase); Vertex-only ones are not sent to Gemini
GEMINI_PARAMS = ("person_generation",)
VERTEX_PARAMS = ("person_generation", "negative_prompt", "enhance_prompt", "safety_setting", "language")


def uses_predict(call: ProviderCall) -> bool:
    return call.offer.options.get("api") == "predict"


def predict_body(call: ProviderCall, *, vertex: bool) -> dict[str, Any]:
    request, spec, caps = call.request, call.spec, call.offer.capabilities
    params: dict[str, Any] = {"sampleCount": call.n}
    if spec.aspect_ratio:
        params["aspectRatio"] = spec.aspect_ratio
    if len(caps.resolutions) > 1 and spec.resolution in caps.resolutions:
        params["sampleImageSize"] = spec.resolution
    for name in VERTEX_PARAMS if vertex else GEMINI_PARAMS:
        for key in (name, camel(name)):
            if request.extra.get(key) is not None:
                params[camel(name)] = request.extra[key]
    if vertex:
        if request.seed is not None:
            params["seed"] = request.seed
            params["addWatermark"] = False  # Imagen refuses a seed while the SynthID watermark is on
        if request.output_format == "jpeg" and "jpeg" in caps.output_formats:
            params["outputOptions"] = {"mimeType": "image/jpeg"}
    return {"instances": [{"prompt": request.prompt}], "parameters": params}


def predict_result(resp: UpstreamResponse, call: ProviderCall, provider: str) -> ImageResult:
    raise_for_status(resp, provider)
    data = resp.json()
    predictions = data.get("predictions") if isinstance(data, dict) else None
    if predictions is not None and not isinstance(predictions, list):
        raise BadResponse(f"{provider}: predictions is not a list", provider=provider)
    images: list[GeneratedImage] = []
    filtered: list[str] = []
    for item in predictions or []:
        if not isinstance(item, dict):
            continue
        b64 = item.get("bytesBase64Encoded")
        if isinstance(b64, str) and b64:
            mime = str(item.get("mimeType") or "image/png")
            size = png_size(b64) if mime == "image/png" else None
            images.append(
                GeneratedImage(
                    mime_type=mime, b64=b64, width=size[0] if size else None, height=size[1] if size else None
                )
            )
        elif item.get("raiFilteredReason"):
            filtered.append(str(item["raiFilteredReason"]))
    if not images:
        if filtered or predictions is None:  # Google answers {} when every image was filtered without a reason
            reason = filtered[0][:300] if filtered else "all images were filtered"
            raise ContentPolicy(
                f"{provider}: the request was refused ({reason})", provider=provider, reason="RAI_FILTERED"
            )
        raise BadResponse(f"{provider}: the answer holds no image", provider=provider)
    result = ImageResult(images=images, usage=Usage(output_images=len(images)))
    result.ttfb_ms = resp.ttfb_ms
    return result
