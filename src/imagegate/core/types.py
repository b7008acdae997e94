"""Canonical, provider-neutral types that travel through the request pipeline.

Plain slotted dataclasses: cheap to build on the hot path, no validation copies.
Validation happens once, at the API edge (``imagegate.api``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from imagegate.core.slices import B64

Operation = Literal["generate", "edit"]
ResponseFormat = Literal["url", "b64_json"]
OUTPUT_FORMATS = ("png", "jpeg", "webp", "gif", "avif")
RESOLUTIONS = ("0.5K", "1K", "2K", "4K")
MEGAPIXEL = 1024 * 1024  # fal's billing megapixel; an image is billed ceil(width * height / MEGAPIXEL)


def billed_megapixels(width: int, height: int) -> int:
    return max(1, -(-(width * height) // MEGAPIXEL)) if width and height else 1


@dataclass(slots=True)
class InputImage:
    """An uploaded image (already validated by ``imagegate.media``)."""

    data: bytes
    mime_type: str
    width: int
    height: int
    filename: str | None = None


@dataclass(slots=True)
class ProviderPreferences:
    """Per-request routing preferences (``extra_body={"provider": {...}}``)."""

    order: list[str] | None = None
    only: list[str] | None = None
    ignore: list[str] | None = None
    sort: Literal["price", "latency", "success"] | None = None
    allow_fallbacks: bool = True
    max_price: float | None = None  # USD per request


@dataclass(slots=True)
class ImageRequest:
    """One client request, canonical and provider-neutral."""

    operation: Operation
    model: str  # as the client asked (alias or "provider/model" allowed)
    prompt: str
    n: int = 1
    size: str | None = None  # "WxH", "W:H", "auto" or None
    aspect_ratio: str | None = None  # "W:H"
    resolution: str | None = None  # "0.5K" | "1K" | "2K" | "4K" | "auto"
    quality: str | None = None
    response_format: ResponseFormat = "url"
    output_format: str | None = None  # None: whatever the provider returns (png by default)
    output_compression: int | None = None
    background: str | None = None
    style: str | None = None
    user: str | None = None
    seed: int | None = None
    images: list[InputImage] = field(default_factory=list)
    mask: InputImage | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # unknown fields, passed through
    preferences: ProviderPreferences | None = None
    request_id: str = ""
    key_id: str | None = None
    batch: bool = False


@dataclass(slots=True, frozen=True)
class RenderSpec:
    """What one offer is asked to render, after size mapping (``imagegate.media.sizes``)."""

    aspect_ratio: str | None  # e.g. "16:9"; None = provider default / auto
    resolution: str | None  # e.g. "2K"; None = provider default
    width: int  # the pixel size the client expects back
    height: int
    exact_size: bool = False  # True when the client gave WxH and wants exactly that


@dataclass(slots=True)
class GeneratedImage:
    """One output image. Either raw bytes or base64 text (or both); never decoded needlessly."""

    mime_type: str
    data: bytes | None = None
    # base64 text: a str, or zero-copy slices of the provider's answer (core/slices.py, providers/b64lift.py)
    b64: B64 | None = None
    width: int | None = None
    height: int | None = None

    @property
    def nbytes(self) -> int:
        """The image's size in bytes, estimated from the base64 length without decoding when only that is held."""
        if self.data is not None:
            return len(self.data)
        return len(self.b64) * 3 // 4 if self.b64 is not None else 0


@dataclass(slots=True)
class Usage:
    """Token and unit counts reported by (or inferred for) a provider call."""

    input_text_tokens: int = 0
    input_image_tokens: int = 0
    cached_input_tokens: int = 0
    output_text_tokens: int = 0  # includes thinking tokens (billed as output text)
    output_image_tokens: int = 0
    thoughts_tokens: int = 0  # informational: already inside output_text_tokens
    input_images: int = 0
    output_images: int = 0
    gpu_ms: int = 0  # device time of a local pipeline call (metric gpu_ms)
    reported: bool = False  # True when the provider reported token counts
    output_megapixels: int = 0  # billed megapixels of the output images (each rounded up; see docs/pricing.md)

    @property
    def input_tokens(self) -> int:
        return self.input_text_tokens + self.input_image_tokens

    @property
    def output_tokens(self) -> int:
        return self.output_text_tokens + self.output_image_tokens

    def add(self, other: Usage) -> None:
        for name in (
            "input_text_tokens",
            "input_image_tokens",
            "cached_input_tokens",
            "output_text_tokens",
            "output_image_tokens",
            "thoughts_tokens",
            "input_images",
            "output_images",
            "output_megapixels",
            "gpu_ms",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reported = self.reported or other.reported


@dataclass(slots=True)
class ImageResult:
    """What a provider adapter returns for one call."""

    images: list[GeneratedImage]
    usage: Usage = field(default_factory=Usage)
    text: str | None = None  # non-thought text, used as revised_prompt
    provider_request_id: str | None = None
    ttfb_ms: float | None = None
    notes: list[str] = field(default_factory=list)  # e.g. parameters the model does not take (dropped)


@dataclass(slots=True)
class CostComponent:
    type: str  # "input" | "output"
    metric: str  # "token" | "token_text" | "token_image" | "image"
    quantity: float
    billable_quantity: float
    unit_price: float  # USD per unit_size units
    unit_size: int
    total_cost_micros: int


@dataclass(slots=True)
class Cost:
    total_micros: int
    components: list[CostComponent] = field(default_factory=list)
    currency: str = "USD"
    estimated: bool = False

    @property
    def usd(self) -> float:
        return self.total_micros / 1_000_000


@dataclass(slots=True)
class Attempt:
    """One call to one offer, successful or not."""

    provider: str
    provider_model_id: str
    outcome: str  # "success" | error class name (e.g. "RateLimited")
    latency_ms: float
    ttfb_ms: float | None = None
    status: int | None = None  # upstream HTTP status when known
    error: str | None = None  # sanitized message
    cost_micros: int = 0
    hedged: bool = False
    started_at: float = 0.0  # unix seconds
    images: int = 0
    bytes: int = 0
    # cancelled while in flight (a hedge that lost, a client that left): the provider may still bill it, so
    # ``cost_micros`` holds the offer's estimate and reports show it apart from the request's own cost
    possibly_billed: bool = False
    limit_hit: str | None = None  # for a Timeout: "attempt_timeout" or "request_deadline" (which limit fired)
