"""Usage + offer -> Cost, in integer micro-dollars.

Each component's cost is ``quantity / unit_size * unit_price`` USD, rounded half up to whole micros on its own;
the total is the sum of the rounded components (so the parts always add up to the total). The rules live in
``PricePlan`` (``plan.py``); ``Pricer`` (``pricer.py``) keeps plans between calls.
"""

from __future__ import annotations

from imagegate.catalog.schema import Offer
from imagegate.core.types import Cost, Usage
from imagegate.pricing.hints import output_tokens_per_image
from imagegate.pricing.plan import PricePlan, micros
from imagegate.pricing.select import effective_resolution

__all__ = ["cost", "micros", "output_tokens_per_image"]


def cost(usage: Usage, offer: Offer, *, resolution: str | None, batch: bool = False) -> Cost:
    """What ``usage`` costs on ``offer`` at ``resolution`` (None or "auto": the offer's default tier).

    ``estimated`` is set when the provider reported no token counts and image tokens came from estimate hints.
    """
    return PricePlan(offer, effective_resolution(offer, resolution), batch).cost(usage)
