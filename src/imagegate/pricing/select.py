"""Which of an offer's price components apply to one call.

Rules (see docs/pricing.md):
1. Mode: in batch mode only ``batch: true`` components apply, otherwise only the others. An offer with no batch
   component at all is billed at its normal prices in batch mode.
2. Resolution: a component with a resolution condition ("4K", or a slash list "1K/2K") applies only when the
   call's resolution is in the list; a component without one applies at any resolution.
3. Specificity: among the remaining components of the same (type, metric, cached) slot, the most specific
   resolution condition wins (a single tier beats a list, a list beats no condition); ties go to file order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from imagegate.catalog.schema import Offer, PriceComponent


@dataclass(frozen=True, slots=True)
class Slot:
    type: str  # input | output
    metric: str  # token | token_text | token_image | image
    cached: bool


def default_resolution(offer: Offer) -> str | None:
    """The tier a call renders at when it names none: the offer's first (lowest) listed tier."""
    resolutions = offer.capabilities.resolutions
    return resolutions[0] if resolutions else None


def effective_resolution(offer: Offer, resolution: str | None) -> str | None:
    """``resolution`` upper-cased ("2k" -> "2K"); None or "auto" mean the offer's default tier."""
    if not resolution or resolution.lower() == "auto":
        resolution = default_resolution(offer)
    return resolution.upper() if resolution else None


def select_components(
    components: Iterable[PriceComponent], *, resolution: str | None, batch: bool
) -> dict[Slot, PriceComponent]:
    """The one component that applies per slot, after the mode, resolution and specificity rules."""
    components = tuple(components)
    if batch and not any(c.conditions.batch for c in components):
        batch = False
    wanted = resolution.upper() if resolution else None
    chosen: dict[Slot, tuple[int, PriceComponent]] = {}
    for comp in components:
        if bool(comp.conditions.batch) != batch:
            continue
        tiers = tuple(t.strip().upper() for t in comp.conditions.resolutions())
        if tiers and wanted not in tiers:
            continue
        specificity = len(tiers) if tiers else 1_000
        slot = Slot(comp.type, comp.metric, bool(comp.conditions.cached))
        if slot not in chosen or specificity < chosen[slot][0]:
            chosen[slot] = (specificity, comp)
    return {slot: comp for slot, (_, comp) in chosen.items()}
