"""What the model pages show, computed from the catalog, the pricing engine, the rollup and the router.

``model_context`` is the one place a model page's values come from; the HTML and markdown templates only lay them
out. Per-image prices come from ``imagegate.pricing`` (the same engine that bills requests), performance from the
rollup snapshot (``web.perf``), the preferred offer from the router's own ordering (``Router.views``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any

import orjson

from imagegate.catalog.schema import ModelRecord, Offer, PriceComponent
from imagegate.core.errors import GatewayError
from imagegate.core.types import ImageRequest
from imagegate.router.types import Candidate
from imagegate.web.chart import daily_chart
from imagegate.web.render import format_usd
from imagegate.web.snippets import GENERATE_PROMPT, examples

__all__ = ["examples", "model_context", "model_url", "router_view", "static_offers"]

RESOLUTIONS = ("1K", "2K", "4K")
EMPTY_ARENA: dict[str, list[Any]] = {"competitions": [], "categories": []}


@dataclass(frozen=True)
class PriceRow:
    resolution: str
    interactive: float | None  # USD per image
    batch: float | None
    has_batch: bool  # the offer has batch prices of its own


def model_url(model: ModelRecord) -> str:
    return f"/models/{model.creator_key}/{model.id}"


def human_list(items: list[str]) -> str:
    """'A', 'A and B', 'A, B, and C' (the seed's style)."""
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + ", and " + items[-1]


def humanize(token: str) -> str:
    return token.replace("_", " ").replace("-", " ").capitalize()


def image_price(services: Any, offer: Offer, resolution: str, batch: bool, operation: str = "generate") -> float | None:
    """What one image costs at ``resolution`` for a short prompt, by the pricing engine; ``None`` when the offer
    cannot render that tier. Exact-size offers (OpenAI style) are priced at 1024x1024 for 1K only."""
    caps = offer.capabilities
    size = None
    if caps.sizes:
        if resolution != "1K":
            return None
        size = "1024x1024" if "1024x1024" in caps.sizes else caps.sizes[0]
    elif resolution not in caps.resolutions:
        return None
    request = ImageRequest(
        operation=operation,  # type: ignore[arg-type]
        model=offer.config_key,
        prompt=GENERATE_PROMPT,
        size=size,
        resolution=None if size else resolution,
        batch=batch,
    )
    try:
        spec = services.gateway.map_size(request, caps)
    except GatewayError:
        return None
    return services.gateway.pricer.estimate(request, offer, spec).usd


def price_rows(services: Any, offer: Offer) -> list[PriceRow]:
    has_batch = any(c.conditions.batch for c in offer.pricing.components)
    return [
        PriceRow(r, image_price(services, offer, r, False), image_price(services, offer, r, True), has_batch)
        for r in RESOLUTIONS
    ]


def static_offers(services: Any, model: ModelRecord) -> list[dict[str, Any]]:
    """Offers with their components and per-image prices (cached per model: they only change with the catalog)."""
    cache: dict[Any, Any] = services.pages.cache
    key = ("offers", model.id)
    hit = cache.get(key)
    if hit is not None and hit[0] is model:
        return hit[1]
    out: list[dict[str, Any]] = []
    for offer in model.offers:
        out.append(
            {
                "offer": offer,
                "components": [_component(c) for c in offer.pricing.components],
                "prices": price_rows(services, offer),
            }
        )
    for o in out:
        o["components_json"] = orjson.dumps(o["components"]).decode()
        o["notes_json"] = orjson.dumps(list(o["offer"].pricing.notes)).decode()  # type: ignore[attr-defined]
    cache[key] = (model, out)
    return out


def _component(c: PriceComponent) -> dict[str, Any]:
    """A price component in the seed's key order, leaving out defaults (unit_size 1, no conditions)."""
    out: dict[str, Any] = {"type": c.type, "metric": c.metric}
    if c.unit_size != 1:
        out["unit_size"] = c.unit_size
    conditions = c.conditions.model_dump(exclude_none=True)
    if conditions:
        out["conditions"] = conditions
    out["unit_price"] = int(c.unit_price) if c.unit_price == int(c.unit_price) else c.unit_price
    return out


def _published(o: dict[str, Any]) -> bool:
    """Offers with a provider's published price; local offers are priced by this gateway's config (default $0)."""
    return bool(o["offer"].pricing.source != "config")


def price_from(offers: list[dict[str, Any]]) -> float | None:
    values = [
        v for o in offers if _published(o) for row in o["prices"] for v in (row.interactive, row.batch) if v is not None
    ]
    return min(values) if values else None


def cheapest_1k(offers: list[dict[str, Any]], active: set[str] | None = None) -> float | None:
    values = [
        row.interactive
        for o in offers
        if _published(o) and (active is None or o["offer"].provider in active)
        for row in o["prices"]
        if row.resolution == "1K" and row.interactive is not None
    ]
    return min(values) if values else None


async def arena_summary(services: Any, model_id: str) -> dict[str, list[Any]]:
    """The arena's summary of a model (``services.arena.model_summary``), or empty sections without an arena."""
    arena = getattr(services, "arena", None)
    if arena is None:
        return EMPTY_ARENA
    result = arena.model_summary(model_id)
    if inspect.isawaitable(result):
        result = await result
    result = result or {}
    return {"competitions": list(result.get("competitions") or []), "categories": list(result.get("categories") or [])}


def arena_rating(summary: dict[str, Any]) -> float | None:
    """One rating for the models list: the summary's own ``rating`` if it has one, else the battle-weighted mean of
    the competition ratings."""
    if summary.get("rating") is not None:
        return float(summary["rating"])
    comps = [c for c in summary.get("competitions", []) if c.get("rating") is not None]
    battles = sum(c.get("battles") or 0 for c in comps)
    if not comps:
        return None
    if not battles:
        return sum(c["rating"] for c in comps) / len(comps)
    return sum(c["rating"] * (c.get("battles") or 0) for c in comps) / battles


def performance(services: Any, model: ModelRecord) -> dict[str, Any]:
    perf = services.perf
    if perf is None:
        return {"providers": [], "window_days": services.settings.stats_window_days, "ready": False}
    snap = perf.snapshot
    names = {o.provider: o.provider_name for o in model.offers}
    names.setdefault("placeholder", "Placeholder (offline)")
    rows = []
    measured = snap.model(model.id)
    order = [o.provider for o in model.offers if o.provider in measured] + sorted(p for p in measured if p not in names)
    for provider in order:
        pp = measured[provider]
        label = f"{names.get(provider, provider)}: daily p50/p95 generation time and success rate"
        rows.append(
            {
                "provider": provider,
                "provider_name": names.get(provider, provider),
                "figures": pp.figures,
                "chart": daily_chart(pp.daily, snap.start, snap.end, label),
            }
        )
    return {"providers": rows, "window_days": snap.window_days, "ready": perf.ready.is_set()}


def faq(model: ModelRecord, offers: list[dict[str, Any]], api_base: str) -> list[tuple[str, str]]:
    """The seed's four questions, answered from live data, then the catalog's own ones."""
    name = model.name
    start = price_from(offers)
    cost = (
        f"{name} starts at {format_usd(start)} per image through this gateway. Pricing varies by provider and "
        "resolution. imagegate does not add any markup to provider pricing."
        if start is not None
        else f"This gateway has no per-image price for {name} yet."
    )
    caps = [humanize(c) for c in model.capabilities]
    spec = model.specifications
    does = f"{name} supports {human_list(caps)}." if caps else f"{name} generates images."
    if spec.input_modalities and spec.output_modalities:
        does += (
            f" It accepts {human_list(list(spec.input_modalities))} input and produces "
            f"{human_list(list(spec.output_modalities))} output."
        )
    tasks = human_list([humanize(t).lower() for t in model.tasks])
    use = (
        f"You can use {name} through this gateway's OpenAI-compatible API at {api_base} ({tasks}). Send requests "
        f'with model ID "{model.id}". Code examples are available in Python, JavaScript, and cURL.'
    )
    providers = human_list([o["offer"].provider_name for o in offers])
    which = (
        f"{name} is available through {providers}. imagegate routes each request to the best available provider "
        "it has keys for."
    )
    out = [
        (f"How much does {name} cost?", cost),
        (f"What can {name} do?", does),
        (f"How do I use {name} via API?", use),
        (f"Which providers offer {name}?", which),
    ]
    return out + [(f.question, f.answer) for f in model.faq]


def links(model: ModelRecord, base_url: str, registered: set[str]) -> list[tuple[str, str]]:
    page = base_url + model_url(model)
    out = [
        ("Model Page", page),
        ("About", page + "#about"),
        ("Providers, Pricing & Performance", page + "/providers"),
        ("API Reference", page + "/api"),
        ("Benchmarks", page + "#arena-benchmarks"),
        ("Use Cases", page + "#use-cases"),
        ("Gallery", page + "#image-gallery"),
    ]
    if "/playground" in registered:
        out.append(("Playground", f"{base_url}/playground?model={model.id}"))
    out += [("API Documentation", f"{base_url}/llms.txt"), ("Markdown", page + ".md")]
    return out


async def model_context(
    services: Any, model: ModelRecord, registered: set[str], arena: dict[str, list[Any]] | None = None
) -> dict[str, Any]:
    renderer = services.pages
    offers = static_offers(services, model)
    active = set(services.providers)
    if arena is None:
        arena = await arena_summary(services, model.id)
    api_base = renderer.base_url + "/v1"
    gallery_count = len(model.gallery) + len(arena["competitions"])
    return {
        "model": model,
        "url": model_url(model),
        "tagline": model.tagline or model.description,
        "released": model.released.strftime("%B %Y") if model.released else None,
        "offers": offers,
        "active": active,
        "perf": performance(services, model),
        "arena": arena,
        "gallery_count": gallery_count,
        "examples": examples(api_base, model.id, "image-editing" in model.tasks),
        "faq": faq(model, offers, api_base),
        "links": links(model, renderer.base_url, registered),
        "price_from": price_from(offers),
        "auth_enabled": services.auth.enabled,
    }


async def router_view(services: Any, model: ModelRecord) -> dict[str, Any]:
    """The router's current order for a standard 1K generation on this gateway's active offers, with each
    offer's numbers, from ``Router.views`` (the code that orders real requests)."""
    gateway, router = services.gateway, services.router
    request = ImageRequest(operation="generate", model=model.id, prompt=GENERATE_PROMPT)  # type: ignore[arg-type]
    candidates = []
    for offer in gateway.offers_for(model):
        try:
            spec = gateway.map_size(request, offer.capabilities)
        except GatewayError:
            continue
        candidates.append(
            Candidate(offer=offer, estimated_cost_micros=gateway.pricer.estimate_micros(request, offer, spec))
        )
    if not candidates:
        return {"views": [], "policy": router.policy_for(model.id).routing.policy}
    snap = await router.snapshot(model.id, [c.provider for c in candidates])
    views = router.views(model.id, candidates, snap)
    policy = router.policy_for(model.id)
    rows = [
        {
            "rank": i + 1,
            "provider": v.provider,
            "provider_name": v.candidate.offer.provider_name,
            "p_success": v.p_success,
            "attempt_s": v.attempt_latency_s,
            "price": v.price / 1_000_000,
            "score": v.score,
            "breaker": v.health.breaker,
            "paused": v.health.paused_until > router.clock.wall(),
            "measured": v.health.total,
        }
        for i, v in enumerate(views)
    ]
    return {"views": rows, "policy": policy.routing.policy, "weights": policy.weights, "why": _why(rows, policy)}


def _why(rows: list[dict[str, Any]], policy: Any) -> str:
    if not rows:
        return "No offer of this model has a configured provider on this gateway."
    best = rows[0]
    evidence = (
        f"{best['measured']} recent attempt{'s' if best['measured'] != 1 else ''} measured"
        if best["measured"]
        else "no recent attempts, so the catalog's expected figures (or the router's priors) stand in"
    )
    if policy.routing.policy != "auto":
        return (
            f"{best['provider_name']} comes first under this model's '{policy.routing.policy}' routing policy; "
            f"open or paused offers go last ({evidence})."
        )
    if len(rows) == 1:
        return f"{best['provider_name']} is the only configured offer ({evidence})."
    second = rows[1]
    return (
        f"{best['provider_name']} has the lowest score ({best['score']:.3g} against {second['score']:.3g} for "
        f"{second['provider_name']}): expected time per attempt {best['attempt_s']:.1f} s, estimated price "
        f"{format_usd(best['price'])}, P(success) {best['p_success'] * 100:.0f}% ({evidence}). The score weighs time "
        f"and price against P(success): (w_latency x time / fastest + w_price x p x price / cheapest) / p^w_success."
    )
