"""``Pricer``: ``cost`` and ``estimate`` with what repeats between requests kept.

Offers are frozen and requests come in few shapes, so a gateway prices the same (offer, resolution, batch) again and
again: the pricer keeps one ``PricePlan`` per shape, and the total of each estimate shape (offer, render spec,
quality, n, prompt tokens, input images, batch) for price ordering. Results are exactly those of ``cost.cost`` and
``estimate.estimate``. Caches belong to the object (the app builds one; see ``Gateway.pricer``), are keyed by the
offer's identity with the offer kept alongside (an id is never trusted alone), and are cleared when full.
"""

from __future__ import annotations

from imagegate.catalog.schema import Offer
from imagegate.core.types import Cost, ImageRequest, RenderSpec, Usage
from imagegate.pricing.estimate import estimate_usage, prompt_tokens
from imagegate.pricing.plan import PricePlan
from imagegate.pricing.select import effective_resolution

# What an offer without a published price counts as when candidates are ordered and filtered by price
# (``Pipeline.plan``): more than any real offer, so it is tried last and never passes a ``max_price``.
UNKNOWN_PRICE_MICROS = 10**12


def candidate_micros(pricer: Pricer, request: ImageRequest, offer: Offer, spec: RenderSpec) -> int:
    """The price a candidate is ordered by: its estimate, or ``UNKNOWN_PRICE_MICROS`` for a ``price_unknown`` one."""
    return UNKNOWN_PRICE_MICROS if offer.price_unknown else pricer.estimate_micros(request, offer, spec)


EstimateKey = tuple[int, str | None, int, int, str | None, int, int, int, bool]


class Pricer:
    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._plans: dict[tuple[int, str | None, bool], PricePlan] = {}
        self._estimates: dict[EstimateKey, tuple[Offer, int]] = {}

    def plan(self, offer: Offer, resolution: str | None, batch: bool = False) -> PricePlan:
        """The plan for ``offer`` at ``resolution`` (None or "auto": the offer's default tier)."""
        key = (id(offer), resolution, batch)
        plan = self._plans.get(key)
        if plan is None or plan.offer is not offer:
            if len(self._plans) >= self.max_entries:
                self._plans.clear()
            plan = self._plans[key] = PricePlan(offer, effective_resolution(offer, resolution), batch)
        return plan

    def cost(self, usage: Usage, offer: Offer, *, resolution: str | None, batch: bool = False) -> Cost:
        """Same as ``imagegate.pricing.cost``."""
        return self.plan(offer, resolution, batch).cost(usage)

    def estimate(self, request: ImageRequest, offer: Offer, spec: RenderSpec, *, n: int | None = None) -> Cost:
        """Same as ``imagegate.pricing.estimate`` (a fresh Cost: callers may keep or change it)."""
        plan = self.plan(offer, spec.resolution, request.batch)
        count = request.n if n is None else n
        return plan.cost(estimate_usage(request, offer, spec, plan.resolution, count), estimated=True)

    def estimate_micros(self, request: ImageRequest, offer: Offer, spec: RenderSpec, *, n: int | None = None) -> int:
        """``estimate(...).total_micros``, remembered per request shape."""
        count = request.n if n is None else n
        key = (
            id(offer), spec.resolution, spec.width, spec.height, request.quality, count,
            prompt_tokens(request, offer), len(request.images), request.batch,
        )  # fmt: skip
        hit = self._estimates.get(key)
        if hit is not None and hit[0] is offer:
            return hit[1]
        total = self.estimate(request, offer, spec, n=count).total_micros
        if len(self._estimates) >= self.max_entries:
            self._estimates.clear()
        self._estimates[key] = (offer, total)
        return total
