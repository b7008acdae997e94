"""Shared helpers of the provider adapter tests."""

from __future__ import annotations

from imagegate.catalog import load_catalog
from imagegate.catalog.schema import Offer


def catalog_offer(provider: str, model: str = "gemini-3-pro-image-preview") -> Offer:
    """The packaged catalog's offer of ``model`` on ``provider``."""
    record, _ = load_catalog().resolve(model)
    found = record.offer(provider)
    assert found is not None, f"{model} has no {provider} offer"
    return found
