"""Which batch lines can run in a provider's batch mode (today: the Gemini API's)."""

from __future__ import annotations

from imagegate.core.errors import GatewayError
from imagegate.core.types import ImageRequest
from imagegate.pipeline import Gateway, Planned

PROVIDER = "gemini"


def provider_plan(gateway: Gateway, request: ImageRequest) -> Planned | None:
    """The Gemini offer that can take ``request`` in batch mode (batch-priced, one call), else ``None``."""
    if PROVIDER not in gateway.providers or gateway.placeholder_only:
        return None
    request.batch = True
    try:
        model, forced, planned = gateway.plan(request)
    except GatewayError:
        request.batch = False
        return None
    if "batch" in model.capabilities and forced in (None, PROVIDER):
        for p in planned:
            offer = p.offer
            batch_priced = any(c.conditions.batch for c in offer.pricing.components)
            if offer.provider == PROVIDER and batch_priced and request.n <= offer.capabilities.max_n:
                return p
    request.batch = False
    return None
