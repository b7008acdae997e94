"""``PricePlan``: an offer's price components compiled once for one (resolution, batch) call shape.

Selecting components (``select.py``) and working out which component each part of a usage goes to is the same for
every call of the same shape; a plan does it once, so pricing a usage is a few additions and one exact decimal
multiplication per billed line. The rules are those of docs/pricing.md; ``cost.cost`` builds a plan per call,
``Pricer`` (``pricer.py``) keeps them.
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_UP, Decimal

from imagegate.catalog.schema import Offer, PriceComponent
from imagegate.core.types import Cost, CostComponent, Usage
from imagegate.pricing.hints import output_tokens_per_image
from imagegate.pricing.select import Slot, select_components

_MICROS = Decimal(1_000_000)
_ONE = Decimal(1)
_MEMO_MAX = 4096  # remembered quantities per rate, cleared when full


def micros(quantity: float, unit_price: float, unit_size: int = 1) -> int:
    """``quantity / unit_size * unit_price`` USD in micros, rounded half up (exact decimal arithmetic)."""
    value = Decimal(str(quantity)) * Decimal(str(unit_price)) * _MICROS / Decimal(unit_size)
    return int(value.quantize(_ONE, rounding=ROUND_HALF_UP))


class Rate:
    """One price component with its decimals parsed once; ``micros(q)`` equals ``micros(q, price, size)``
    (same operations in the same order) and remembers the answers, since quantities repeat."""

    __slots__ = ("comp", "type", "metric", "unit_price", "unit_size", "token", "_price", "_size", "_memo")

    def __init__(self, comp: PriceComponent) -> None:
        self.comp = comp
        self.type = comp.type
        self.metric = comp.metric
        self.unit_price = comp.unit_price
        self.unit_size = comp.unit_size
        self.token = comp.metric.startswith("token")
        self._price = Decimal(str(comp.unit_price))
        self._size = Decimal(comp.unit_size)
        self._memo: dict[int, int] = {}

    def micros(self, quantity: int) -> int:
        hit = self._memo.get(quantity)
        if hit is not None:
            return hit
        q = Decimal(quantity) if type(quantity) is int else Decimal(str(quantity))
        value = int((q * self._price * _MICROS / self._size).quantize(_ONE, rounding=ROUND_HALF_UP))
        if len(self._memo) >= _MEMO_MAX:
            self._memo.clear()
        self._memo[quantity] = value
        return value

    def line(self, quantity: int) -> CostComponent:
        return CostComponent(
            type=self.type,
            metric=self.metric,
            quantity=quantity,
            billable_quantity=quantity / self.unit_size,
            unit_price=self.unit_price,
            unit_size=self.unit_size,
            total_cost_micros=self.micros(quantity),
        )


@dataclasses.dataclass(frozen=True, slots=True)
class SideRoutes:
    """Where one side's (input or output) quantities go. Per-image pricing replaces image-token pricing; a specific
    token metric replaces the generic one for its part; cached tokens without a cached price go to the normal one."""

    per_image: Rate | None
    per_megapixel: Rate | None
    text: Rate | None
    text_cached: Rate | None
    image: Rate | None
    image_cached: Rate | None


class PricePlan:
    """The components that apply to ``offer`` at ``resolution`` (already effective: see ``effective_resolution``)
    in batch mode or not, and where each part of a usage is billed."""

    __slots__ = ("offer", "resolution", "batch", "currency", "input", "output", "gpu", "_hint_in", "_hint_out")

    def __init__(self, offer: Offer, resolution: str | None, batch: bool) -> None:
        self.offer = offer
        self.resolution = resolution
        self.batch = batch
        self.currency = offer.pricing.currency
        selected = select_components(offer.pricing.components, resolution=resolution, batch=batch)
        rates: dict[int, Rate] = {}

        def rate(slot: Slot) -> Rate | None:
            comp = selected.get(slot)
            if comp is None:
                return None
            return rates.setdefault(id(comp), Rate(comp))

        def token(side: str, kind: str, cached: bool) -> Rate | None:
            return rate(Slot(side, f"token_{kind}", cached)) or rate(Slot(side, "token", cached))

        def routes(side: str) -> SideRoutes:
            text, image = token(side, "text", False), token(side, "image", False)
            return SideRoutes(
                per_image=rate(Slot(side, "image", False)),
                per_megapixel=rate(Slot(side, "megapixel", False)),
                text=text,
                text_cached=token(side, "text", True) or text,
                image=image,
                image_cached=token(side, "image", True) or image,
            )

        self.input = routes("input")
        self.output = routes("output")
        self.gpu = rate(Slot("output", "gpu_ms", False))  # local offers: billed by device time
        hints = offer.estimate
        self._hint_in = hints.input_image_tokens
        self._hint_out = output_tokens_per_image(hints, resolution=resolution)

    def cost(self, usage: Usage, *, estimated: bool = False) -> Cost:
        """What ``usage`` costs. Image tokens a provider did not report are filled in from the offer's estimate
        hints (the Cost is then marked ``estimated`` when a token line is billed); ``estimated=True`` marks it
        anyway (an estimate made before the call)."""
        filled = False
        if not usage.reported:
            usage, filled = self._fill(usage)
        quantities: dict[Rate, int] = {}
        text, image = usage.input_text_tokens, usage.input_image_tokens
        cached = min(max(usage.cached_input_tokens, 0), text + image)
        _side(quantities, self.input, text, image, usage.input_images, cached)
        _side(quantities, self.output, usage.output_text_tokens, usage.output_image_tokens, usage.output_images, 0)
        if self.output.per_megapixel is not None:
            _add(quantities, self.output.per_megapixel, usage.output_megapixels or usage.output_images)
        if self.gpu is not None:
            _add(quantities, self.gpu, usage.gpu_ms)
        lines = [r.line(q) for r, q in quantities.items()]
        return Cost(
            total_micros=sum(line.total_cost_micros for line in lines),
            components=lines,
            currency=self.currency,
            estimated=estimated or (filled and any(r.token for r in quantities)),
        )

    def _fill(self, usage: Usage) -> tuple[Usage, bool]:
        """Image token counts for a call whose provider reported none, from the offer's estimate hints."""
        changes: dict[str, int] = {}
        if not usage.input_image_tokens and usage.input_images and self._hint_in:
            changes["input_image_tokens"] = usage.input_images * self._hint_in
        if not usage.output_image_tokens and usage.output_images and self._hint_out:
            changes["output_image_tokens"] = usage.output_images * self._hint_out
        if not changes:
            return usage, False
        return dataclasses.replace(usage, **changes), True  # type: ignore[arg-type]  # mypy reads **int as bool


def _side(quantities: dict[Rate, int], r: SideRoutes, text: int, image: int, units: int, cached: int) -> None:
    """Add one side's billed quantities, in the order of docs/pricing.md (per image, text, image tokens); a rate
    reached twice (the generic ``token`` for text and image) sums, zero quantities bill nothing."""
    if r.per_image is not None or r.per_megapixel is not None:
        if r.per_image is not None:
            _add(quantities, r.per_image, units)
        image = 0
    cached_text = min(cached, text)
    cached_image = min(cached - cached_text, image)
    if r.text is not None:
        _add(quantities, r.text, text - cached_text)
    if r.text_cached is not None:
        _add(quantities, r.text_cached, cached_text)
    if r.image is not None:
        _add(quantities, r.image, image - cached_image)
    if r.image_cached is not None:
        _add(quantities, r.image_cached, cached_image)


def _add(quantities: dict[Rate, int], rate: Rate, qty: int) -> None:
    if qty > 0:
        quantities[rate] = quantities.get(rate, 0) + qty
