"""Build a fal / Replicate model input from the offer's ``mapping`` (catalog data), so a new model is a data file.

``check_params`` runs before routing (``Pipeline.plan``): a parameter value outside the model's limits, or, under
``strict_params: true``, a parameter the model does not take, rules that offer out with a 400 naming it.
``build_input`` runs in the adapter: it returns the upstream input and notes on the parameters it dropped
(they reach the answer's ``metadata.dropped_params``).
"""

from __future__ import annotations

from typing import Any

from imagegate.catalog.schema import InputMapping, Offer, ParamMapping
from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ImageRequest, RenderSpec

STRICT_KEY = "strict_params"
# Extras that steer the gateway itself, never a model parameter.
GATEWAY_EXTRAS = frozenset({STRICT_KEY, "dryRun", "dry_run", "metadata", "moderation", "partial_images"})
# Request attributes that are caller parameters of the model (output_format, background and compression are
# converted by the gateway when a model cannot produce them, so they are never dropped).
ATTRIBUTE_PARAMS = ("seed", "quality", "style")


def strict(request: ImageRequest) -> bool:
    value = request.extra.get(STRICT_KEY)
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _asked(request: ImageRequest) -> dict[str, Any]:
    """The caller's model parameters that were set: seed / quality / style and unknown extras."""
    asked: dict[str, Any] = {}
    for name in ATTRIBUTE_PARAMS:
        value = getattr(request, name)
        if value is not None and not (name == "quality" and value == "auto"):
            asked[name] = value
    for name, value in request.extra.items():
        if name not in GATEWAY_EXTRAS and value is not None:
            asked[name] = value
    return asked


def _convert(name: str, pm: ParamMapping, value: Any) -> Any:
    """The upstream value of one parameter, or ``InvalidRequest`` naming it."""
    value = pm.values.get(str(value), value) if pm.values else value
    try:
        if pm.type == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            value = int(value)
        elif pm.type == "float":
            if isinstance(value, bool):
                raise ValueError
            value = float(value)
        elif pm.type == "bool":
            if isinstance(value, str) and value.lower() in ("true", "false"):
                value = value.lower() == "true"
            elif not isinstance(value, bool):
                raise ValueError
        else:
            value = str(value)
    except (TypeError, ValueError):
        raise InvalidRequest(f"'{name}' must be of type {pm.type}.", param=name) from None
    if pm.minimum is not None and value < pm.minimum or pm.maximum is not None and value > pm.maximum:
        raise InvalidRequest(f"'{name}' must be between {pm.minimum} and {pm.maximum}, not {value}.", param=name)
    if pm.choices and value not in pm.choices:
        allowed = ", ".join(repr(c) for c in pm.choices)
        raise InvalidRequest(f"Invalid value for '{name}': {value!r}. Supported values are: {allowed}.", param=name)
    return value


def check_params(request: ImageRequest, offer: Offer) -> None:
    """Refuse (400) values out of the model's limits and, when the caller is strict, parameters it does not take."""
    mapping = offer.mapping
    if mapping is None:
        return
    for name, value in _asked(request).items():
        pm = mapping.params.get(name)
        if pm is not None:
            _convert(name, pm, value)
        elif strict(request):
            raise InvalidRequest(
                f"'{name}' is not a parameter of {offer.provider_model_id} on {offer.provider_name} "
                f"(strict_params is set).",
                param=name,
            )


def endpoint(offer: Offer, operation: str) -> str:
    """fal: the model path for this operation (the provider model id plus the mapping's path)."""
    mapping = offer.mapping
    suffix = "" if mapping is None else (mapping.edit_path if operation == "edit" else mapping.generate_path)
    return offer.provider_model_id + suffix


def build_input(
    request: ImageRequest, offer: Offer, spec: RenderSpec, n: int, image_refs: list[str]
) -> tuple[dict[str, Any], list[str]]:
    """The upstream input for one call and notes on the caller parameters the model does not take."""
    mapping = offer.mapping
    assert mapping is not None
    body: dict[str, Any] = dict(mapping.constants)
    body[mapping.prompt_field] = request.prompt
    if mapping.n_field:
        body[mapping.n_field] = n
    if image_refs and mapping.images_field:
        body[mapping.images_field] = image_refs if mapping.images_kind == "list" else image_refs[0]
    _size(body, mapping, spec, editing=bool(image_refs))
    tier = spec.resolution or offer.capabilities.resolutions[0]  # the default tier when none was asked
    if mapping.resolution_field and tier in mapping.resolution_values:
        body[mapping.resolution_field] = mapping.resolution_values[tier]
    if mapping.output_format_field:
        fmt = mapping.output_formats.get(request.output_format or "") or mapping.default_output_format
        if fmt is not None:
            body[mapping.output_format_field] = fmt
    notes: list[str] = []
    for name, value in _asked(request).items():
        pm = mapping.params.get(name)
        if pm is None:
            notes.append(f"'{name}' is not a parameter of {offer.provider_model_id} on {offer.provider_name}: dropped")
        else:
            body[pm.field] = _convert(name, pm, value)
    return body, notes


def _size(body: dict[str, Any], mapping: InputMapping, spec: RenderSpec, *, editing: bool) -> None:
    ratio = spec.aspect_ratio
    if mapping.size == "aspect_ratio":
        if ratio:
            body[mapping.aspect_ratio_field] = mapping.ratio_values.get(ratio, ratio)
        elif editing and mapping.edit_ratio:
            body[mapping.aspect_ratio_field] = mapping.edit_ratio
    elif mapping.size == "image_size" and (ratio or spec.exact_size):  # nothing asked: the model's default
        enum = mapping.ratio_values.get(ratio or "")
        big = spec.resolution not in (None, "1K")  # fal's enum sizes are about 1 MP
        if mapping.size_object and (spec.exact_size or enum is None or big) and spec.width and spec.height:
            width, height = spec.width, spec.height
            if mapping.max_pixels and width * height > mapping.max_pixels:
                scale = (mapping.max_pixels / (width * height)) ** 0.5
                width, height = int(width * scale) // 16 * 16, int(height * scale) // 16 * 16
            body["image_size"] = {"width": width, "height": height}
        elif enum is not None:
            body["image_size"] = enum
