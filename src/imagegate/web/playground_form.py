"""The playground's form: what the model takes (from the catalog), the fields read from a submitted form, and the
API request they make (a JSON body for generations, multipart with repeated ``image[]`` for edits)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData, UploadFile

from imagegate.web.apicall import Multipart, UploadPart

SEED_PROVIDERS = frozenset({"gemini", "vertex", "fal", "placeholder"})  # adapters that pass ``seed`` upstream
QUALITY_PROVIDERS = frozenset({"openai"})  # adapters that pass ``quality`` upstream
SORTS = ("price", "latency", "success")
FORMATS = ("png", "jpeg", "webp")
MAX_UPLOAD_FILES = 17  # the largest reference-image count we show, plus the mask


def _ordered_union(groups: list[tuple[str, ...]]) -> list[str]:
    out: list[str] = []
    for group in groups:
        out += [v for v in group if v not in out]
    return out


def model_options(gateway: Any, model: Any, max_n: int) -> dict[str, Any]:
    """What the playground offers for ``model``: the union of its active offers' capabilities."""
    offers = gateway.offers_for(model)
    caps = [o.capabilities for o in offers]
    known = [*model.offers, *offers]  # what the model takes is catalog data, whichever offers are active here
    qualities: list[str] = []
    for o in known:
        for hint in o.estimate.output_image_tokens:
            q = hint.split(":", 1)[0] if ":" in hint else None
            if q and q not in qualities:
                qualities.append(q)
    if not qualities and any(o.provider in QUALITY_PROVIDERS for o in known):
        qualities = ["low", "medium", "high"]
    return {
        "id": model.id,
        "name": model.name,
        "creator": model.creator,
        "providers": [{"id": o.provider, "name": o.provider_name} for o in offers],
        "supports_edit": any(c.supports_edit for c in caps),
        "supports_mask": any(c.supports_mask for c in caps),
        "max_input_images": min(max((c.max_input_images for c in caps), default=0), MAX_UPLOAD_FILES - 1),
        "max_n": max_n,
        "sizes": [s for s in _ordered_union([c.sizes for c in caps]) if s != "auto"],
        "aspect_ratios": _ordered_union([c.aspect_ratios for c in caps]),
        "resolutions": _ordered_union([c.resolutions for c in caps]),
        "output_formats": [f for f in FORMATS],
        "qualities": qualities,
        "takes_seed": any(o.provider in SEED_PROVIDERS for o in known),
    }


@dataclass
class PlaygroundInput:
    """The submitted fields, as strings (echoed back into the form), and the uploads."""

    model: str = ""
    prompt: str = ""
    provider: str = ""  # force one provider ("" = let the router choose)
    order: str = ""  # comma-separated provider order preference
    sort: str = ""
    max_price: str = ""
    size_mode: str = "aspect"  # "aspect" (aspect_ratio + resolution) | "size" (WxH)
    size: str = ""
    aspect_ratio: str = ""
    resolution: str = ""
    n: str = "1"
    output_format: str = ""
    output_compression: str = ""
    quality: str = ""
    seed: str = ""
    images: list[UploadPart] = field(default_factory=list)
    mask: UploadPart | None = None

    @property
    def operation(self) -> str:
        return "edit" if self.images else "generate"

    def model_name(self) -> str:
        return f"{self.provider}/{self.model}" if self.provider else self.model

    def preferences(self) -> dict[str, Any] | None:
        prefs: dict[str, Any] = {}
        order = [p.strip() for p in self.order.split(",") if p.strip()]
        if order:
            prefs["order"] = order
        if self.sort:
            prefs["sort"] = self.sort
        if self.max_price.strip():
            prefs["max_price"] = _number(self.max_price.strip())
        return prefs or None

    def api_fields(self) -> dict[str, Any]:
        """The request's fields, typed as a JSON client would send them; what does not parse is sent as typed, so
        the API itself answers with its own error message."""
        out: dict[str, Any] = {"model": self.model_name(), "prompt": self.prompt}
        if self.n.strip() and self.n.strip() != "1":
            out["n"] = _number(self.n.strip())
        if self.size_mode == "size" and self.size:
            out["size"] = self.size
        elif self.size_mode != "size":
            if self.aspect_ratio:
                out["aspect_ratio"] = self.aspect_ratio
            if self.resolution:
                out["resolution"] = self.resolution
        if self.output_format:
            out["output_format"] = self.output_format
            if self.output_compression.strip() and self.output_format in ("jpeg", "webp"):
                out["output_compression"] = _number(self.output_compression.strip())
        if self.quality:
            out["quality"] = self.quality
        if self.seed.strip():
            out["seed"] = _number(self.seed.strip())
        prefs = self.preferences()
        if prefs:
            out["provider"] = prefs
        return out

    def api_request(self, response_format: str = "url") -> tuple[str, dict[str, Any] | None, Multipart | None]:
        """``(path, json body, multipart form)``: exactly one of the last two is set."""
        fields = {**self.api_fields(), "response_format": response_format}
        if self.operation == "generate":
            return "/v1/images/generations", fields, None
        form_fields = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in fields.items()}
        files = [UploadPart("image[]", f.filename, f.content_type, f.data) for f in self.images]
        if self.mask is not None:
            files.append(UploadPart("mask", self.mask.filename, self.mask.content_type, self.mask.data))
        return "/v1/images/edits", None, Multipart(form_fields, files)

    def echo(self) -> dict[str, Any]:
        """The string fields, for re-filling the form (uploads cannot be re-filled)."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if k not in ("images", "mask")}


def _number(text: str) -> Any:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


async def _upload(item: UploadFile, field_name: str) -> UploadPart | None:
    data = await item.read()
    if not data and not item.filename:
        return None  # an empty file input
    return UploadPart(field_name, item.filename or "upload", item.content_type or "application/octet-stream", data)


async def read_input(form: FormData) -> PlaygroundInput:
    inp = PlaygroundInput()
    for name in inp.echo():
        value = form.get(name)
        if isinstance(value, str):
            setattr(inp, name, value.strip() if name != "prompt" else value)
    for item in form.getlist("image[]") + form.getlist("image"):
        if isinstance(item, UploadFile):
            part = await _upload(item, "image[]")
            if part is not None:
                inp.images.append(part)
    mask = form.get("mask")
    if isinstance(mask, UploadFile):
        inp.mask = await _upload(mask, "mask")
    return inp
