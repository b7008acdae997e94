"""The body of a ``dryRun`` answer: what a request is expected to cost, and why."""

from __future__ import annotations

from typing import Any

from imagegate.catalog.schema import Offer
from imagegate.core.types import Cost


def dry_run_body(model_id: str, offer: Offer, cost: Cost) -> dict[str, Any]:
    """``unit_price`` is USD per ``unit_size`` units; ``billable_quantity`` is quantity / unit_size;
    ``total_cost`` and ``total_cost_micros`` are integer micro-dollars. An offer with no published price
    (``price_unknown``) answers ``total_cost_micros: null`` and says so."""
    if offer.price_unknown:
        return {
            "estimated": True,
            "model": model_id,
            "provider": offer.provider,
            "total_cost_micros": None,
            "currency": offer.pricing.currency,
            "price_unknown": True,
            "note": f"{offer.provider_name} publishes no price for {offer.provider_model_id} that imagegate could "
            "source; the router treats this offer as the most expensive.",
            "components": [],
        }
    return {
        "estimated": True,
        "model": model_id,
        "provider": offer.provider,
        "total_cost_micros": cost.total_micros,
        "currency": cost.currency,
        "components": [
            {
                "type": c.type,
                "metric": c.metric,
                "quantity": _number(c.quantity),
                "billable_quantity": _number(c.billable_quantity),
                "unit_price": c.unit_price,
                "total_cost": c.total_cost_micros,
            }
            for c in cost.components
        ],
    }


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
