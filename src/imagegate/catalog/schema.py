"""Schema of the catalog data files (``catalog/data/*.yaml``).

Loaded once at start; invalid files are refused with the file and the field named
(see ``imagegate.catalog.loader``). Models are frozen: the hot path only reads them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Metric = Literal["token", "token_text", "token_image", "image", "megapixel", "gpu_ms"]  # gpu_ms: local device time


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
    components: tuple[PriceComponent, ...]  # may be empty only when the offer is ``price_unknown``
    notes: tuple[str, ...] = ()
    source: str = "official"
    source_url: str
    effective_at: dt.date


class EstimateHints(_Frozen):
    """How to turn a request into expected usage for a dry run on token-priced offers."""

    output_image_tokens: dict[str, int] = {}  # resolution tier -> tokens per output image
    input_image_tokens: int = 0  # tokens per input image
    chars_per_token: float = 4.0  # prompt text estimate
    gpu_ms_per_image: int = Field(default=0, ge=0)  # local offers: expected device time per image


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


# --------------------------------------------------------------------------- request mapping (issue 16)

Scalar = str | int | float | bool


class ParamMapping(_Frozen):
    """How one caller parameter (``seed``, ``guidance_scale``, ...) reaches the upstream input."""

    field: str  # upstream field name
    type: Literal["int", "float", "str", "bool"] = "str"
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Scalar, ...] = ()  # allowed upstream values (after ``values``)
    values: dict[str, Scalar] = {}  # caller value -> upstream value


class InputMapping(_Frozen):
    """An offer's upstream input, described as data and applied by the fal and Replicate adapters.

    ``size`` says how the render spec is sent: ``aspect_ratio`` (``aspect_ratio_field`` with ``ratio_values``),
    ``image_size`` (fal's enum from ``ratio_values``, else ``{width, height}`` when ``size_object``), ``none``.
    Caller parameters: ``n`` goes to ``n_field``; ``seed``, ``output_format`` and every ``request.extra`` key listed
    in ``params`` are mapped; any other caller parameter is dropped with a note, or refused with 400 under
    ``strict_params: true``.
    """

    generate_path: str = ""  # fal: appended to provider_model_id for a generation ("/text-to-image")
    edit_path: str = ""  # fal: appended for an edit ("/edit"); Replicate uses one endpoint for both
    prompt_field: str = "prompt"
    n_field: str | None = None  # None: one image per call (``capabilities.max_n`` says how many per call)
    images_field: str | None = None  # where input images go
    images_kind: Literal["list", "single"] = "list"
    size: Literal["aspect_ratio", "image_size", "none"] = "aspect_ratio"
    aspect_ratio_field: str = "aspect_ratio"
    ratio_values: dict[str, str] = {}  # "16:9" -> upstream value; empty = the ratio itself
    size_object: bool = False  # fal image_size: send {width, height} when the ratio has no enum value
    edit_ratio: str | None = None  # value sent on edits when no ratio was asked ("match_input_image")
    max_pixels: int | None = None  # largest width*height for {width, height}
    resolution_field: str | None = None
    resolution_values: dict[str, str] = {}  # tier -> upstream value
    output_format_field: str | None = None
    output_formats: dict[str, str] = {}  # png|jpeg|webp -> upstream value
    default_output_format: str | None = None  # upstream value sent when the caller asks none
    params: dict[str, ParamMapping] = {}  # caller parameter name -> mapping (seed included)
    constants: dict[str, Scalar] = {}  # always sent (sync_mode: false, enable_safety_checker: true, ...)
    output: Literal["images", "url", "urls"] = "images"  # fal result images[] / Replicate output kind


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
    # --- request mapping and unknown prices (catalog breadth, issue 16) ---
    mapping: InputMapping | None = None  # fal / Replicate input fields as data; None = the adapter's built-in
    price_unknown: bool = False  # no published price found: routed as the most expensive, dry run says so

    @field_validator("config_key")
    @classmethod
    def _config_key_has_prefix(cls, v: str) -> str:
        if "/" not in v:
            raise ValueError("config_key must look like 'provider/model'")
        return v

    @model_validator(mode="after")
    def _priced_or_unknown(self) -> Offer:
        if not self.pricing.components and not self.price_unknown:
            raise ValueError("pricing.components is empty: list the published prices or set price_unknown: true")
        return self


class Specifications(_Frozen):
    context_window: int | None = None
    max_input_images: int | None = None
    max_output_tokens: int | None = None
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()


# --- Web catalog page fields (issue 10): all optional, so catalog files without them validate. ---------------------


class About(_Frozen):
    """The model page's About section."""

    overview: str = ""
    strengths: tuple[str, ...] = ()  # "**Title:** text" lines (markdown emphasis allowed)
    limitations: tuple[str, ...] = ()
    technical_background: str = ""
    best_for: str = ""


class GalleryEntry(_Frozen):
    """A curated example: the prompt and an image shipped with the package (``web/static/gallery/...``)."""

    prompt: str = Field(min_length=1)
    image: str = Field(pattern=r"^gallery/[a-z0-9][a-z0-9._/-]*\.webp$")  # path under web/static
    task: Literal["text-to-image", "image-editing"] = "text-to-image"
    title: str | None = None


class FaqEntry(_Frozen):
    """An extra question for the FAQ (the computed ones, price, capabilities, API use, providers, come first)."""

    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)


CREATOR_SLUG = r"^[a-z0-9][a-z0-9.-]*$"


class ModelRecord(_Frozen):
    id: str
    name: str
    description: str = ""
    creator: str
    family: str | None = None
    status: Literal["active", "preview", "deprecated", "disabled"] = "active"
    released: dt.date | None = None
    aliases: tuple[str, ...] = ()
    # names several models may share (``flux-kontext``); one that more than one model claims is refused (400)
    # with the candidates named, one that a single model claims resolves to it
    shared_aliases: tuple[str, ...] = ()
    alternative_names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    specifications: Specifications = Specifications()
    tasks: tuple[Literal["text-to-image", "image-editing"], ...] = ("text-to-image",)
    offers: tuple[Offer, ...]
    example_prompt: str | None = None
    # --- web catalog page fields (issue 10) ---
    creator_slug: str | None = Field(default=None, pattern=CREATOR_SLUG)  # URL segment: /models/{creator_slug}/{id}
    tagline: str | None = None  # one line under the title; default: the description
    about: About = About()
    faq: tuple[FaqEntry, ...] = ()
    gallery: tuple[GalleryEntry, ...] = ()

    @property
    def creator_key(self) -> str:
        """The creator's URL segment: ``creator_slug`` when the catalog gives one, else the creator lower-cased
        with runs of other characters as ``-`` (``Black Forest Labs`` -> ``black-forest-labs``)."""
        return self.creator_slug or re.sub(r"[^a-z0-9.]+", "-", self.creator.lower()).strip("-")

    def offer(self, provider: str) -> Offer | None:
        for o in self.offers:
            if o.provider == provider:
                return o
        return None


class CatalogFile(_Frozen):
    """One YAML file: a list of models."""

    models: tuple[ModelRecord, ...]
