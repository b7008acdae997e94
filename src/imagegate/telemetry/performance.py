"""A model's provider block: every offer's prices with its measured performance over a window.

The same figures the seed's model page shows (p50/p95/average generation time, time to first byte p50/p95,
success rate, total requests), computed from the request log by ``imagegate.store.stats``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from imagegate.catalog.schema import ModelRecord, Offer
from imagegate.store.db import Database
from imagegate.store.stats import provider_stats


def offer_pricing(offer: Offer) -> dict[str, Any]:
    p = offer.pricing
    return {
        "currency": p.currency,
        "components": [
            {
                "type": c.type,
                "metric": c.metric,
                "unit_size": c.unit_size,
                "unit_price": c.unit_price,
                **(
                    {"conditions": c.conditions.model_dump(exclude_none=True)}
                    if c.conditions.model_dump(exclude_none=True)
                    else {}
                ),
            }
            for c in p.components
        ],
        "notes": list(p.notes),
        "source": p.source,
        "source_url": p.source_url,
        "effective_at": p.effective_at.isoformat(),
    }


def model_providers(
    db: Database,
    model: ModelRecord,
    *,
    window_days: int,
    active: set[str],
    now: datetime | None = None,
    active_from_log: bool = False,
) -> dict[str, Any]:
    """Blocking (database): call through ``asyncio.to_thread``. ``active_from_log``: a provider with requests in the
    window counts as active too (``imagegate stats`` runs without the server's credentials)."""
    since = (now or datetime.now(UTC)) - timedelta(days=window_days)
    measured = {row["provider"]: row for row in provider_stats(db, model.id, since)}
    if active_from_log:
        active = active | {p for p, row in measured.items() if row.get("requests")}
    providers = []
    for offer in model.offers:
        perf = measured.pop(offer.provider, None)
        providers.append(
            {
                "provider": offer.provider,
                "provider_name": offer.provider_name,
                "config_key": offer.config_key,
                "provider_model_id": offer.provider_model_id,
                "regions": list(offer.regions),
                "active": offer.provider in active,
                "pricing": offer_pricing(offer),
                "performance": _performance(perf),
            }
        )
    for provider, perf in sorted(measured.items()):  # e.g. the placeholder, when it served this model
        providers.append({"provider": provider, "active": provider in active, "performance": _performance(perf)})
    return {"object": "list", "model": model.id, "window_days": window_days, "data": providers}


def _performance(row: dict[str, Any] | None) -> dict[str, Any]:
    if row is None:
        return {
            "requests": 0,
            "successes": 0,
            "success_rate": None,
            "latency_p50_ms": None,
            "latency_p95_ms": None,
            "latency_avg_ms": None,
            "ttfb_p50_ms": None,
            "ttfb_p95_ms": None,
            "spend_micros": 0,
            "possibly_billed": 0,
            "possibly_billed_micros": 0,
        }
    return {k: _rounded(k, v) for k, v in row.items() if k != "provider"}


def _rounded(key: str, value: Any) -> Any:
    """Milliseconds to 0.1 ms, rates to 4 decimals: the database's float noise is not a measurement."""
    if not isinstance(value, float):
        return value
    return round(value, 4) if key == "success_rate" else round(value, 1)


def price_lines(pricing: dict[str, Any]) -> list[str]:
    """``- Price: $0.134 per image (output, 2K)`` for each component of ``offer_pricing``."""
    out = []
    for c in pricing.get("components", []):
        size = c["unit_size"]
        per = {1: "", 1_000: "1K ", 1_000_000: "1M "}.get(size, f"{size:,} ")
        noun = {"image": "image", "token": "token", "token_text": "text token", "token_image": "image token"}.get(
            c["metric"], c["metric"]
        )
        plural = "s" if size > 1 else ""
        conds = [
            k if v is True else f"not {k}" if v is False else str(v) for k, v in (c.get("conditions") or {}).items()
        ]
        detail = ", ".join([c["type"], *conds])
        out.append(f"- Price: ${c['unit_price']:g} per {per}{noun}{plural} ({detail})")
    return out


def format_block(body: dict[str, Any]) -> str:
    """The figures as the seed page prints them (for ``imagegate stats``)."""

    def ms(v: float | None) -> str:
        return f"{v:.0f}ms" if v is not None else "n/a"

    lines = [f"Provider performance for {body['model']} over the last {body['window_days']} days."]
    for p in body["data"]:
        perf = p["performance"]
        rate = f"{perf['success_rate'] * 100:.1f}%" if perf["success_rate"] is not None else "n/a"
        state = "" if p.get("active") else " (inactive)"
        lines += [
            f"### {p['provider']}{state}",
            f"- Median Generation Time (p50): {ms(perf['latency_p50_ms'])}",
            f"- 95th Percentile Generation Time (p95): {ms(perf['latency_p95_ms'])}",
            f"- Average Generation Time: {ms(perf['latency_avg_ms'])}",
            f"- Success Rate: {rate}",
            f"- Total Requests: {perf['requests']}",
            f"- Time to First Byte (p50): {ms(perf['ttfb_p50_ms'])}",
            f"- Time to First Byte (p95): {ms(perf['ttfb_p95_ms'])}",
            f"- Spend: ${perf['spend_micros'] / 1e6:.4f}",
            f"- Possibly billed (cancelled in flight): {perf['possibly_billed']} call(s), "
            f"${perf['possibly_billed_micros'] / 1e6:.4f}",
            *price_lines(p.get("pricing") or {}),
        ]
    return "\n".join(lines)
