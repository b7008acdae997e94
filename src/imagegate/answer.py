"""The OpenAI-shaped answer the pipeline returns, and small helpers over provider results."""

from __future__ import annotations

import time
from typing import Any

from imagegate.catalog.schema import Offer
from imagegate.core.types import Attempt, GeneratedImage, ImageRequest, ImageResult, Usage


def answer_body(
    request: ImageRequest,
    model_id: str,
    offer: Offer,
    result: ImageResult,
    data: list[dict[str, Any]],
    cost_micros: int,
    attempts: list[Attempt],
    sizes: list[str | None] | None = None,
) -> dict[str, Any]:
    """``sizes``: the pixel size of each returned image (``data`` order), reported as ``size`` (the first image's),
    and per image as ``data[i].size`` when they differ; never the requested size, which providers round."""
    body: dict[str, Any] = {"created": int(time.time()), "data": data}
    if request.output_format:
        body["output_format"] = request.output_format
    known = [s for s in sizes or [] if s]
    if known:
        body["size"] = known[0]
        if len(set(known)) > 1 or len(known) < len(data):
            for item, size in zip(data, sizes or [], strict=False):
                if size:
                    item["size"] = size
    if request.quality:
        body["quality"] = request.quality
    if request.background:
        body["background"] = request.background
    usage = result.usage
    if usage.reported:
        body["usage"] = {
            "input_tokens": usage.input_tokens,
            "input_tokens_details": {
                "image_tokens": usage.input_image_tokens,
                "text_tokens": usage.input_text_tokens,
            },
            "output_tokens": usage.output_tokens,
            "output_tokens_details": {
                "image_tokens": usage.output_image_tokens,
                "text_tokens": usage.output_text_tokens,
            },
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
    body["metadata"] = {
        "model": model_id,
        "executed_model": f"{offer.provider}/{offer.provider_model_id}",
        "provider": offer.provider,
        "provider_name": offer.provider_name,
        "cost": cost_micros / 1_000_000,
        "cost_micros": cost_micros,
        "currency": "USD",
        "request_id": request.request_id,
        "attempts": [attempt_json(a) for a in attempts],
    }
    if result.notes:
        body["metadata"]["dropped_params"] = list(dict.fromkeys(result.notes))
    return body


def attempt_json(a: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {
        "provider": a.provider,
        "outcome": a.outcome,
        "latency_ms": round(a.latency_ms, 1),
    }
    if a.status is not None:
        out["status"] = a.status
    if a.error:
        out["error"] = a.error
    if a.hedged:
        out["hedged"] = True
    if a.cost_micros:
        out["cost_micros"] = a.cost_micros
    if a.possibly_billed:
        out["possibly_billed"] = True
    if a.limit_hit:
        out["limit_hit"] = a.limit_hit
    return out


def merge_results(results: list[ImageResult]) -> ImageResult:
    usage = Usage()
    images: list[GeneratedImage] = []
    notes: list[str] = []
    for r in results:
        usage.add(r.usage)
        images.extend(r.images)
        notes.extend(n for n in r.notes if n not in notes)
    ttfbs = [r.ttfb_ms for r in results if r.ttfb_ms is not None]
    return ImageResult(
        images=images,
        usage=usage,
        text=next((r.text for r in results if r.text), None),
        provider_request_id=results[0].provider_request_id if results else None,
        ttfb_ms=max(ttfbs) if ttfbs else None,
        notes=notes,
    )
