"""Local offers take their price from the gateway's config: ``usd_per_gpu_second`` x device time (default 0)."""

from __future__ import annotations

from imagegate.catalog.loader import Catalog
from imagegate.catalog.schema import Offer, PriceComponent
from imagegate.providers.local.config import LocalConfig, LocalModelConfig


def price_local_offers(catalog: Catalog, config: LocalConfig) -> Catalog:
    """The catalog with every configured ``local`` offer priced per its model's config."""
    if not config.models:
        return catalog
    models = []
    changed = False
    for model in catalog.models():
        cfg = config.models.get(model.id)
        if cfg is None or not any(o.provider == "local" for o in model.offers):
            models.append(model)
            continue
        offers = tuple(_priced(o, cfg) if o.provider == "local" else o for o in model.offers)
        models.append(model.model_copy(update={"offers": offers}))
        changed = True
    return Catalog(models) if changed else catalog


def _priced(offer: Offer, cfg: LocalModelConfig) -> Offer:
    component = PriceComponent(type="output", metric="gpu_ms", unit_size=1000, unit_price=cfg.usd_per_gpu_second)
    pricing = offer.pricing.model_copy(
        update={
            "components": (component,),
            "source": "config",
            "notes": (f"${cfg.usd_per_gpu_second:g} per second of device time (local.models usd_per_gpu_second)",),
        }
    )
    estimate = offer.estimate.model_copy(update={"gpu_ms_per_image": round(cfg.expected_s_per_image * 1000)})
    return offer.model_copy(update={"pricing": pricing, "estimate": estimate})
