"""What the fake knows of ``google/nano-banana-pro``: its input schema, output sizes and model/version objects."""

from __future__ import annotations

import hashlib
import math
from typing import Any

MODEL = "google/nano-banana-pro"
VERSION_ID = hashlib.sha256(MODEL.encode()).hexdigest()
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
ENUMS: dict[str, tuple[str, ...]] = {
    "aspect_ratio": ("match_input_image", *ASPECT_RATIOS),
    "resolution": ("1K", "2K", "4K"),
    "output_format": ("jpg", "png"),
    "safety_filter_level": ("block_low_and_above", "block_medium_and_above", "block_only_high"),
}
DEFAULTS = {
    "aspect_ratio": "match_input_image",
    "resolution": "2K",
    "output_format": "jpg",
    "safety_filter_level": "block_only_high",
}
MAX_IMAGE_INPUTS = 14
E005 = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"


def _log_ratio(ratio: str) -> float:
    w, _, h = ratio.partition(":")
    return math.log(float(w) / float(h))


def nearest_ratio(width: int, height: int) -> str:
    """The supported ratio nearest to an input image's shape (what ``match_input_image`` renders)."""
    target = math.log(width / height)
    return min(ASPECT_RATIOS, key=lambda r: abs(_log_ratio(r) - target))


def validate_input(inp: Any) -> list[dict[str, str]]:
    """Check ``input`` against the model's schema; return Replicate-style ``invalid_fields``."""
    if not isinstance(inp, dict):
        return [{"type": "invalid_type", "field": "input", "description": "Invalid type. Expected: object"}]
    errors = []
    for key in inp:
        if key not in ENUMS and key not in ("prompt", "image_input"):
            errors.append(
                {
                    "type": "additional_property_not_allowed",
                    "field": "input",
                    "description": f"Additional property {key} is not allowed",
                }
            )
    if "prompt" not in inp:
        errors.append({"type": "required", "field": "input", "description": "prompt is required"})
    elif not isinstance(inp["prompt"], str):
        errors.append(
            {
                "type": "invalid_type",
                "field": "input.prompt",
                "description": "Invalid type. Expected: string, given: " + type(inp["prompt"]).__name__,
            }
        )
    for key, allowed in ENUMS.items():
        if key in inp and inp[key] not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            errors.append(
                {
                    "type": "enum",
                    "field": f"input.{key}",
                    "description": f"{key} must be one of the following: {choices}",
                }
            )
    images = inp.get("image_input", [])
    if not isinstance(images, list):
        errors.append(
            {"type": "invalid_type", "field": "input.image_input", "description": "Invalid type. Expected: array"}
        )
        return errors
    if len(images) > MAX_IMAGE_INPUTS:
        errors.append(
            {
                "type": "array_max_items",
                "field": "input.image_input",
                "description": f"Array must have at most {MAX_IMAGE_INPUTS} items",
            }
        )
    for i, item in enumerate(images):
        if not isinstance(item, str) or not item.startswith(("data:", "http://", "https://")):
            errors.append(
                {"type": "format", "field": f"input.image_input.{i}", "description": "Does not match format 'uri'"}
            )
    return errors


def version_object() -> dict[str, Any]:
    props: dict[str, Any] = {
        "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
        "image_input": {
            "type": "array",
            "items": {"type": "string", "format": "uri"},
            "default": [],
            "maxItems": MAX_IMAGE_INPUTS,
            "title": "Image Input",
            "x-order": 1,
        },
    }
    for order, (key, allowed) in enumerate(ENUMS.items(), start=2):
        props[key] = {"enum": list(allowed), "type": "string", "default": DEFAULTS[key], "x-order": order}
    schema = {
        "openapi": "3.0.2",
        "info": {"title": "Cog", "version": "0.1.0"},
        "paths": {},
        "components": {
            "schemas": {
                "Input": {"type": "object", "title": "Input", "required": ["prompt"], "properties": props},
                "Output": {"type": "string", "title": "Output", "format": "uri"},
            }
        },
    }
    return {
        "id": VERSION_ID,
        "created_at": "2025-11-20T00:00:00.000000Z",
        "cog_version": "0.16.8",
        "openapi_schema": schema,
    }


def model_object() -> dict[str, Any]:
    owner, name = MODEL.split("/")
    return {
        "url": f"https://replicate.com/{MODEL}",
        "owner": owner,
        "name": name,
        "description": "Google's state of the art image generation and editing model",
        "visibility": "public",
        "github_url": None,
        "paper_url": None,
        "license_url": None,
        "run_count": 1000,
        "cover_image_url": None,
        "default_example": None,
        "latest_version": version_object(),
    }
