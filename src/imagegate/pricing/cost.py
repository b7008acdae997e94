"""Usage + offer -> Cost, in integer micro-dollars.

Each component's cost is ``quantity / unit_size * unit_price`` USD, rounded half up to whole micros on its own;
the total is the sum of the rounded components (so the parts always add up to the total).
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

from imagegate.catalog.schema import EstimateHints, Offer, PriceComponent
from imagegate.core.types import Cost, CostComponent, Usage
from imagegate.pricing.select import Slot, effective_resolution, select_components

_MICROS = Decimal(1_000_000)


def cost(usage: Usage, offer: Offer, *, resolution: str | None, batch: bool = False) -> Cost:
    """What ``usage`` costs on ``offer`` at ``resolution`` (None or "auto": the offer's default tier).

    ``estimated`` is set when the provider reported no token counts and image tokens came from estimate hints.
    """
    resolution = effective_resolution(offer, resolution)
    selected = select_components(offer.pricing.components, resolution=resolution, batch=batch)
    filled = False
    if not usage.reported:
        usage, filled = _fill_from_hints(usage, offer.estimate, resolution)
    quantities: dict[int, tuple[PriceComponent, int]] = {}
    for side in ("input", "output"):
        for comp, qty in _side_quantities(side, usage, selected):
            if qty > 0:
                prev = quantities.get(id(comp), (comp, 0))[1]
                quantities[id(comp)] = (comp, prev + qty)
    lines = [_line(comp, qty) for comp, qty in quantities.values()]
    estimated = filled and any(line.metric.startswith("token") for line in lines)
    return Cost(
        total_micros=sum(line.total_cost_micros for line in lines),
        components=lines,
        currency=offer.pricing.currency,
        estimated=estimated,
    )


def micros(quantity: float, unit_price: float, unit_size: int = 1) -> int:
    """``quantity / unit_size * unit_price`` USD in micros, rounded half up (exact decimal arithmetic)."""
    value = Decimal(str(quantity)) * Decimal(str(unit_price)) * _MICROS / Decimal(unit_size)
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _line(comp: PriceComponent, quantity: int) -> CostComponent:
    return CostComponent(
        type=comp.type,
        metric=comp.metric,
        quantity=quantity,
        billable_quantity=quantity / comp.unit_size,
        unit_price=comp.unit_price,
        unit_size=comp.unit_size,
        total_cost_micros=micros(quantity, comp.unit_price, comp.unit_size),
    )


def _side_quantities(
    side: str, usage: Usage, selected: dict[Slot, PriceComponent]
) -> list[tuple[PriceComponent, int]]:
    """Split one side's usage over the selected components.

    Per-image pricing replaces image-token pricing; a specific token metric (token_text, token_image) replaces
    the generic ``token`` one for its part; cached input tokens (taken from the text tokens first) go to the
    cached component, or to the normal one when the offer has no cached price.
    """
    if side == "input":
        text, image, units = usage.input_text_tokens, usage.input_image_tokens, usage.input_images
        cached = min(max(usage.cached_input_tokens, 0), text + image)
    else:
        text, image, units = usage.output_text_tokens, usage.output_image_tokens, usage.output_images
        cached = 0
    out: list[tuple[PriceComponent, int]] = []
    per_image = selected.get(Slot(side, "image", False))
    if per_image is not None:
        out.append((per_image, units))
        image = 0
    cached_text = min(cached, text)
    cached_image = min(cached - cached_text, image)
    for kind, total, in_cache in (("text", text, cached_text), ("image", image, cached_image)):
        normal = _token_component(selected, side, kind, cached=False)
        cached_comp = _token_component(selected, side, kind, cached=True) or normal
        if normal is not None:
            out.append((normal, total - in_cache))
        if cached_comp is not None:
            out.append((cached_comp, in_cache))
    return out


def _token_component(
    selected: dict[Slot, PriceComponent], side: str, kind: str, *, cached: bool
) -> PriceComponent | None:
    return selected.get(Slot(side, f"token_{kind}", cached)) or selected.get(Slot(side, "token", cached))


def _fill_from_hints(usage: Usage, hints: EstimateHints, resolution: str | None) -> tuple[Usage, bool]:
    """Image token counts for a call whose provider reported none, from the offer's estimate hints."""
    changes: dict[str, int] = {}
    if not usage.input_image_tokens and usage.input_images and hints.input_image_tokens:
        changes["input_image_tokens"] = usage.input_images * hints.input_image_tokens
    if not usage.output_image_tokens and usage.output_images:
        per_image = output_tokens_per_image(hints, resolution=resolution)
        if per_image:
            changes["output_image_tokens"] = usage.output_images * per_image
    if not changes:
        return usage, False
    return dataclasses.replace(usage, **changes), True


def output_tokens_per_image(
    hints: EstimateHints, *, resolution: str | None, quality: str | None = None, size: str | None = None
) -> int:
    """Expected tokens per output image.

    Hint keys are a resolution tier ("2K"), a size ("1024x1024"), a quality ("high") or "<quality>:<size>".
    The most precise key present wins; when the call leaves a dimension open (no quality, an unknown size),
    the most expensive matching entry is taken, so an estimate errs on the high side.
    """
    table = hints.output_image_tokens
    if not table:
        return 0
    quality = quality.lower() if quality and quality.lower() != "auto" else None
    size = size.lower() if size and size.lower() != "auto" else None
    for key in (f"{quality}:{size}" if quality and size else None, resolution, size, quality):
        if key and key in table:
            return table[key]
    matching = [
        tokens for key, tokens in table.items()
        if (quality is None or key.startswith(f"{quality}:")) and (size is None or key.endswith(f":{size}"))
    ]
    return max(matching or table.values())
