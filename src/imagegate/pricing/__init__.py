"""Pricing: price components and their conditions -> ``Cost`` in integer micros. Rules: docs/pricing.md."""

from imagegate.pricing.cost import cost, micros, output_tokens_per_image
from imagegate.pricing.dry_run import dry_run_body
from imagegate.pricing.estimate import estimate
from imagegate.pricing.plan import PricePlan
from imagegate.pricing.pricer import Pricer
from imagegate.pricing.select import default_resolution, effective_resolution, select_components

__all__ = [
    "PricePlan",
    "Pricer",
    "cost",
    "default_resolution",
    "dry_run_body",
    "effective_resolution",
    "estimate",
    "micros",
    "output_tokens_per_image",
    "select_components",
]
