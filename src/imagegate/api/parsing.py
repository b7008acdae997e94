"""Turn a JSON body or multipart form into a canonical ``ImageRequest``, validating every field once.

Every failure is an ``InvalidRequest`` (400) naming the parameter, never a 500.
"""

from __future__ import annotations

from typing import Any

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import OUTPUT_FORMATS, ImageRequest, InputImage, ProviderPreferences

RESPONSE_FORMATS = ("url", "b64_json")
QUALITIES = ("standard", "hd", "low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
STYLES = ("vivid", "natural")
RESOLUTION_VALUES = ("auto", "0.5K", "1K", "2K", "4K")
SORTS = ("price", "latency", "success")
MAX_PRICE_USD = 1_000_000.0  # any sane per-request ceiling; larger values would overflow integer micros
MAX_SIZE_CHARS = 64  # "auto", "WxH" or "W:H": longer is never a size

# Fields we understand; anything else passes through to the provider in ``ImageRequest.extra``.
_KNOWN = {
    "model",
    "prompt",
    "n",
    "size",
    "quality",
    "response_format",
    "output_format",
    "output_compression",
    "background",
    "style",
    "user",
    "aspect_ratio",
    "resolution",
    "seed",
    "provider",
    "stream",
    "partial_images",
    "moderation",
    "input_fidelity",
    "image",
    "image[]",
    "mask",
}


class Limits:
    """The validation limits, taken from settings."""

    __slots__ = ("max_prompt_chars", "max_n")

    def __init__(self, max_prompt_chars: int = 32_000, max_n: int = 10) -> None:
        self.max_prompt_chars = max_prompt_chars
        self.max_n = max_n


# the request log's column sizes (store/models.py): a longer value is refused at the edge, never silently dropped
MAX_CHARS = {"model": 200, "user": 256}


def _str(data: dict[str, Any], key: str, *, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise InvalidRequest(f"Missing required parameter: '{key}'.", param=key)
        return None
    if not isinstance(value, str):
        raise InvalidRequest(f"Invalid type for '{key}': expected a string, got {type(value).__name__}.", param=key)
    if "\x00" in value:  # PostgreSQL text cannot hold NUL: refused here rather than lost from the request log
        raise InvalidRequest(f"Invalid value for '{key}': it contains a NUL character.", param=key)
    limit = MAX_CHARS.get(key)
    if limit is not None and len(value) > limit:
        raise InvalidRequest(f"'{key}' is too long: {len(value)} characters, the maximum is {limit}.", param=key)
    if choices and value not in choices:
        raise InvalidRequest(
            f"Invalid value for '{key}': {value!r}. Supported values are: {', '.join(repr(c) for c in choices)}.",
            param=key,
        )
    return value


def _int(
    data: dict[str, Any], key: str, lo: int | None = None, hi: int | None = None, *, form: bool = False
) -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if form and isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise InvalidRequest(f"Invalid type for '{key}': expected an integer, got {value!r}.", param=key) from None
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise InvalidRequest(
                f"Invalid type for '{key}': expected an integer, got {type(value).__name__}.", param=key
            )
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise InvalidRequest(f"Invalid value for '{key}': {value}. Must be between {lo} and {hi}.", param=key)
    return value


def _size(data: dict[str, Any]) -> str | None:
    size = _str(data, "size")
    if size is not None and len(size) > MAX_SIZE_CHARS:
        raise InvalidRequest(
            f"Invalid value for 'size': {size[:24]!r}... is {len(size)} characters long: expected 'auto', "
            "'WxH' (pixels) or 'W:H' (aspect ratio).",
            param="size",
        )
    return size


def _str_list(value: Any, key: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"Invalid type for '{key}': expected a list of provider names.", param=key)
    return value


def parse_preferences(value: Any) -> ProviderPreferences | None:
    """``provider`` preferences from ``extra_body``; also accepted as a JSON string in forms."""
    if value is None:
        return None
    if isinstance(value, str):
        import orjson

        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise InvalidRequest("Invalid 'provider': expected a JSON object.", param="provider") from None
    if not isinstance(value, dict):
        raise InvalidRequest("Invalid type for 'provider': expected an object.", param="provider")
    unknown = set(value) - {"order", "only", "ignore", "sort", "allow_fallbacks", "max_price"}
    if unknown:
        raise InvalidRequest(f"Unknown provider preference(s): {', '.join(sorted(unknown))}.", param="provider")
    sort = _str(value, "sort", choices=SORTS)
    allow = value.get("allow_fallbacks", True)
    if not isinstance(allow, bool):
        raise InvalidRequest("Invalid type for 'provider.allow_fallbacks': expected a boolean.", param="provider")
    max_price = value.get("max_price")
    if max_price is not None and (
        isinstance(max_price, bool)
        or not isinstance(max_price, int | float)
        or not 0 <= max_price <= MAX_PRICE_USD  # also refuses NaN
    ):
        raise InvalidRequest(
            f"Invalid 'provider.max_price': expected a number of USD between 0 and {MAX_PRICE_USD:g}.",
            param="provider.max_price",
        )
    return ProviderPreferences(
        order=_str_list(value.get("order"), "provider.order"),
        only=_str_list(value.get("only"), "provider.only"),
        ignore=_str_list(value.get("ignore"), "provider.ignore"),
        sort=sort,  # type: ignore[arg-type]
        allow_fallbacks=allow,
        max_price=float(max_price) if max_price is not None else None,
    )


def parse_stream(data: dict[str, Any], *, form: bool = False) -> bool:
    """``stream``: a boolean (``"true"``/``"false"`` in forms)."""
    value = data.get("stream")
    if value is None:
        return False
    if form and isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    if not isinstance(value, bool):
        raise InvalidRequest(f"Invalid type for 'stream': expected a boolean, got {type(value).__name__}.",
                             param="stream")  # fmt: skip
    return value


def build_request(
    data: dict[str, Any],
    *,
    operation: str,
    limits: Limits,
    form: bool = False,
    images: list[InputImage] | None = None,
    mask: InputImage | None = None,
) -> ImageRequest:
    """Validate ``data`` (a JSON object, or form fields as strings when ``form``) into an ``ImageRequest``."""
    if not isinstance(data, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    model = _str(data, "model", required=True)
    assert model is not None
    if not model.strip():
        raise InvalidRequest("'model' must not be empty.", param="model")
    prompt = _str(data, "prompt", required=True)
    assert prompt is not None
    if not prompt.strip():
        raise InvalidRequest("'prompt' must not be empty.", param="prompt")
    if len(prompt) > limits.max_prompt_chars:
        raise InvalidRequest(
            f"'prompt' is too long: {len(prompt)} characters, the maximum is {limits.max_prompt_chars}.",
            param="prompt",
        )
    n = _int(data, "n", 1, limits.max_n, form=form)
    parse_stream(data, form=form)  # validated here; api/image_stream.py serves it
    output_format = _str(data, "output_format", choices=(*OUTPUT_FORMATS, "jpg"))
    if output_format == "jpg":
        output_format = "jpeg"
    resolution = _str(data, "resolution")
    if resolution is not None:
        normal = resolution.upper() if resolution.lower() != "auto" else "auto"
        if normal not in RESOLUTION_VALUES:
            raise InvalidRequest(
                f"Invalid value for 'resolution': {resolution!r}. Supported values are: "
                + ", ".join(repr(r) for r in RESOLUTION_VALUES)
                + ".",
                param="resolution",
            )
        resolution = normal
    seed = _int(data, "seed", -(2**63), 2**63 - 1, form=form)
    extra: dict[str, Any] = {k: v for k, v in data.items() if k not in _KNOWN}
    for key in ("moderation", "input_fidelity"):
        if data.get(key) is not None:
            extra[key] = data[key]
    partial_images = _int(data, "partial_images", 0, 3, form=form)
    if partial_images is not None:
        extra["partial_images"] = partial_images
    return ImageRequest(
        operation=operation,  # type: ignore[arg-type]
        model=model.strip(),
        prompt=prompt,
        n=n or 1,
        size=_size(data),
        aspect_ratio=_str(data, "aspect_ratio"),
        resolution=resolution,
        quality=_str(data, "quality", choices=QUALITIES),
        response_format=_str(data, "response_format", choices=RESPONSE_FORMATS) or "url",  # type: ignore[arg-type]
        output_format=output_format,
        output_compression=_int(data, "output_compression", 0, 100, form=form),
        background=_str(data, "background", choices=BACKGROUNDS),
        style=_str(data, "style", choices=STYLES),
        user=_str(data, "user"),
        seed=seed,
        images=images or [],
        mask=mask,
        extra=extra,
        preferences=parse_preferences(data.get("provider")),
    )
