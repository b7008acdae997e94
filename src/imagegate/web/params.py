"""The request parameters of a model, by mode, and what each provider does with each one.

One table feeds the ``/models/{creator}/{model}/api`` page and ``GET /v1/models/{id}?schema=true`` (JSON Schema).
A treatment is one of: ``passed`` (sent as is), ``renamed`` (sent under the provider's name), ``converted`` (turned
into the provider's form), ``emulated`` (done by the gateway), ``gateway`` (read by the gateway itself, never sent) or
``ignored`` (accepted, not sent). The per-adapter notes follow the adapters in ``imagegate.providers``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagegate.api.parsing import BACKGROUNDS, QUALITIES, RESOLUTION_VALUES, RESPONSE_FORMATS, SORTS, STYLES
from imagegate.catalog.schema import ModelRecord, Offer
from imagegate.core.types import OUTPUT_FORMATS

Mode = str  # "generation" | "editing"


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # JSON Schema type ("string", "integer", "object", "file")
    description: str
    modes: tuple[Mode, ...] = ("generation", "editing")
    required: bool = False
    enum: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None


def params(model: ModelRecord, max_prompt_chars: int, max_n: int) -> list[Param]:
    ratios = sorted({r for o in model.offers for r in o.capabilities.aspect_ratios})
    max_images = max((o.capabilities.max_input_images for o in model.offers), default=0)
    return [
        Param("model", "string", f"This model's id ({model.id}), an alias, or provider/{model.id}.", required=True),
        Param("prompt", "string", f"What to draw or change; up to {max_prompt_chars} characters.", required=True),
        Param("n", "integer", "Number of images.", minimum=1, maximum=max_n),
        Param("size", "string", "WxH (1024x1024), W:H (16:9) or auto; mapped to the nearest size the provider has."),
        Param("aspect_ratio", "string", "W:H.", enum=tuple(ratios)),
        Param("resolution", "string", "Resolution tier.", enum=RESOLUTION_VALUES),
        Param("quality", "string", "Rendering quality.", enum=QUALITIES),
        Param("response_format", "string", "url (served by this gateway) or b64_json.", enum=RESPONSE_FORMATS),
        Param("output_format", "string", "Image format returned.", enum=tuple(OUTPUT_FORMATS)),
        Param("output_compression", "integer", "Compression for jpeg and webp (0-100).", minimum=0, maximum=100),
        Param("background", "string", "Background.", enum=BACKGROUNDS),
        Param("style", "string", "Style (DALL-E 3 style values).", enum=STYLES),
        Param("seed", "integer", "Seed, where the provider takes one."),
        Param("user", "string", "Your end user's id (logged)."),
        Param(
            "provider",
            "object",
            f"Routing preferences: only, ignore, order, sort ({', '.join(SORTS)}), allow_fallbacks, max_price (USD).",
        ),
        Param(
            "image",
            "file",
            f"Input image(s), up to {max_images}; multipart field image or image[].",
            modes=("editing",),
            required=True,
            minimum=1,
            maximum=max_images or None,
        ),
        Param("mask", "file", "PNG mask; transparent pixels mark where to edit.", modes=("editing",)),
    ]


_GOOGLE = {
    "model": ("renamed", "the offer's provider model id in the URL"),
    "prompt": ("converted", "a text part of contents"),
    "size": ("converted", "to imageConfig aspectRatio + imageSize"),
    "aspect_ratio": ("renamed", "imageConfig.aspectRatio"),
    "resolution": ("renamed", "imageConfig.imageSize"),
    "seed": ("renamed", "generationConfig.seed"),
    "image": ("converted", "inlineData parts"),
}
ADAPTERS: dict[str, dict[str, tuple[str, str]]] = {
    "gemini": {**_GOOGLE, "output_compression": ("emulated", "applied when the gateway re-encodes")},
    "vertex": {**_GOOGLE, "output_compression": ("renamed", "imageOutputOptions.compressionQuality")},
    "replicate": {
        "model": ("renamed", "the offer's provider model id"),
        "prompt": ("passed", "input.prompt"),
        "size": ("converted", "to aspect_ratio + resolution"),
        "aspect_ratio": ("passed", "input.aspect_ratio"),
        "resolution": ("passed", "input.resolution"),
        "image": ("converted", "input.image_input (data URLs)"),
    },
    "fal": {
        "model": ("renamed", "the endpoint path"),
        "prompt": ("passed", "prompt"),
        "size": ("converted", "to aspect_ratio + resolution"),
        "aspect_ratio": ("passed", "aspect_ratio"),
        "resolution": ("passed", "resolution"),
        "seed": ("passed", "seed"),
        "image": ("converted", "image_urls (data URIs), edit endpoint"),
    },
    "openai": {
        "model": ("renamed", "the offer's provider model id"),
        "prompt": ("passed", "prompt"),
        "size": ("passed", "snapped to a size the model accepts"),
        "aspect_ratio": ("converted", "to size"),
        "resolution": ("converted", "to size"),
        "quality": ("passed", "mapped to the model's quality names"),
        "background": ("passed", "background"),
        "user": ("passed", "user"),
        "output_compression": ("passed", "for jpeg and webp"),
        "image": ("passed", "image / image[]"),
        "mask": ("passed", "mask"),
    },
}


def treatment(param: Param, offer: Offer) -> tuple[str, str]:
    """What ``offer``'s adapter does with ``param``: (kind, note)."""
    caps = offer.capabilities
    if param.name == "provider":
        return "gateway", "read by the router, never sent"
    if param.name == "response_format":
        return "emulated", "the gateway stores the image and returns a URL or base64"
    if param.name == "n":
        if caps.max_n > 1:
            kind = "renamed" if offer.provider == "fal" else "passed"
            return kind, f"up to {caps.max_n} per call, more in parallel"
        return "emulated", "one upstream call per image, in parallel"
    if param.name == "output_format":
        native = ", ".join(caps.output_formats)
        return "passed", f"{native} natively; other formats converted by the gateway"
    if param.name == "mask" and not caps.supports_mask:
        return "emulated", "sent as one more reference image"
    mapped = ADAPTERS.get(offer.provider, {}).get(param.name)
    if mapped is not None:
        return mapped
    if param.name in ("model", "prompt"):
        return "passed", ""
    return "ignored", "accepted, not sent to this provider"


def table(model: ModelRecord, max_prompt_chars: int, max_n: int) -> dict[Mode, list[dict[str, Any]]]:
    """Per mode, every parameter with its type, range and per-provider treatment."""
    out: dict[Mode, list[dict[str, Any]]] = {"generation": [], "editing": []}
    editing = "image-editing" in model.tasks
    for p in params(model, max_prompt_chars, max_n):
        for mode in p.modes:
            if mode == "editing" and not editing:
                continue
            offers = [o for o in model.offers if mode == "generation" or o.capabilities.supports_edit]
            out[mode].append(
                {
                    "param": p,
                    "range": _range(p),
                    "providers": [(o, *treatment(p, o)) for o in offers],
                }
            )
    if not editing:
        del out["editing"]
    return out


def _range(p: Param) -> str:
    if p.enum:
        return ", ".join(p.enum)
    if p.minimum is not None or p.maximum is not None:
        return f"{p.minimum if p.minimum is not None else '…'}–{p.maximum if p.maximum is not None else '…'}"
    return ""


def json_schema(model: ModelRecord, max_prompt_chars: int, max_n: int) -> dict[str, Any]:
    """The same table as JSON Schema (draft 2020-12), one schema per mode; per-provider treatment in
    ``x-imagegate-providers``."""
    schemas: dict[str, Any] = {}
    for mode, rows in table(model, max_prompt_chars, max_n).items():
        props: dict[str, Any] = {}
        required: list[str] = []
        for row in rows:
            p: Param = row["param"]
            prop: dict[str, Any] = {"description": p.description}
            if p.type == "file":
                prop.update({"type": "string", "contentMediaType": "image/*", "format": "binary"})
            else:
                prop["type"] = p.type
            if p.enum:
                prop["enum"] = list(p.enum)
            if p.type == "integer":
                if p.minimum is not None:
                    prop["minimum"] = p.minimum
                if p.maximum is not None:
                    prop["maximum"] = p.maximum
            if p.name == "prompt":
                prop["maxLength"] = max_prompt_chars
            prop["x-imagegate-providers"] = {
                o.provider: {"treatment": kind, "note": note} for o, kind, note in row["providers"]
            }
            props[p.name] = prop
            if p.required:
                required.append(p.name)
        schemas[mode] = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": f"{model.name}: {'image generation' if mode == 'generation' else 'image editing'} request",
            "type": "object",
            "properties": props,
            "required": required,
            "x-imagegate-endpoint": "/v1/images/generations" if mode == "generation" else "/v1/images/edits",
            "x-imagegate-content-type": "application/json" if mode == "generation" else "multipart/form-data",
        }
    return schemas
