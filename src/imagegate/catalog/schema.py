"""Schema of the catalog data files (``catalog/data/*.yaml``).

Loaded once at start; invalid files are refused with the file and the field named
(see ``imagegate.catalog.loader``). Models are frozen: the hot path only reads them.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Metric = Literal["token", "token_text", "token_image", "image"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PriceConditions(_Frozen):
    """When a component applies. Absent key = applies regardless (but see ``pricing``)."""

    cached: bool | None = None
    batch: bool | None = None
    # "1K", "2K", "4K" or a slash list such as "1K/2K"
    resolution: str | None = None

    def resolutions(self) -> tuple[str, ...]:
        return tuple(self.resolution.split("/")) if self.resolution else ()


class PriceComponent(_Frozen):
    type: Literal["input", "output"]
    metric: Metric
    unit_size: int = Field(default=1, ge=1)
    unit_price: float = Field(ge=0)  # USD per unit_size units
    conditions: PriceConditions = PriceConditions()


class Pricing(_Frozen):
    currency: Literal["USD"] = "USD"
    components: tuple[PriceComponent, ...]
    notes: tuple[str, ...] = ()
    source: str = "official"
    source_url: str
    effective_at: dt.date


class EstimateHints(_Frozen):
    """How to turn a request into expected usage for a dry run on token-priced offers."""

    output_image_tokens: dict[str, int] = {}  # resolution tier -> tokens per output image
    input_image_tokens: int = 0  # tokens per input image
    chars_per_token: float = 4.0  # prompt text estimate


class OfferCapabilities(_Frozen):
    max_input_images: int = Field(default=0, ge=0)
    resolutions: tuple[str, ...] = ("1K",)
    aspect_ratios: tuple[str, ...] = ("1:1",)
    output_formats: tuple[str, ...] = ("png",)  # formats the provider itself can return
    max_n: int = Field(default=1, ge=1)  # per upstream call; more is emulated
    supports_edit: bool = False
    supports_mask: bool = False
    # Exact pixel sizes the offer accepts (OpenAI-style "1024x1024"); empty = ratio/tier based
    sizes: tuple[str, ...] = ()
    # Smallest width or height a "WxH" size may ask for (smaller ones are a 400, not a provider failure)
    min_side: int = Field(default=64, ge=1)


class ExpectedPerformance(_Frozen):
    """Published or previously measured figures for an offer: the router's prior before it has its own data."""

    success_rate: float = Field(gt=0, le=1)
    p50_ms: float = Field(gt=0)
    p95_ms: float | None = Field(default=None, gt=0)
    source: str  # where the figures come from


class Offer(_Frozen):
    provider: str  # adapter name: gemini | vertex | replicate | fal | openai | placeholder
    provider_name: str  # display name, e.g. "Google Vertex AI"
    provider_model_id: str
    config_key: str  # "provider/model"
    regions: tuple[str, ...] = ()
    pricing: Pricing
    capabilities: OfferCapabilities = OfferCapabilities()
    estimate: EstimateHints = EstimateHints()
    expected: ExpectedPerformance | None = None
    # Adapter-specific static options (e.g. fal's edit endpoint suffix)
    options: dict[str, str | int | float | bool] = {}

    @field_validator("config_key")
    @classmethod
    def _config_key_has_prefix(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError("config_key must look like 'provider/model'")
        return v


class Specifications(_Frozen):
    context_window: int | None = None
    max_input_images: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()


class ModelRecord(_Frozen):
    id: str
    name: str
    description: str = ""
    creator: str
    family: str | None = None
    status: Literal["active", "preview", "deprecated", "disabled"] = "active"
    released: dt.date | None = None
    aliases: tuple[str, ...] = ()
    alternative_names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    specifications: Specifications = Specifications()
    tasks: tuple[Literal["text-to-image", "image-editing"], ...] = ("text-to-image",)
    offers: tuple[Offer, ...]
    example_prompt: str | None = None

    def offer(self, provider: str) -> Offer | None:
        for o in self.offers:
            if o.provider == provider:
                return o
        return None


class CatalogFile(_Frozen):
    """One YAML file: a list of models."""

    models: tuple[ModelRecord, ...]
