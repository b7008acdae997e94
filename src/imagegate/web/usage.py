"""``/usage`` (and ``/usage.md``): spend over time per key, model or provider, the biggest requests, remaining
budgets.

Spend is not public: with keys configured the page needs a bearer token like the API (whatever ``pages_public``
says). The master key sees every key; any other key sees its own usage only. With auth off (a loopback gateway with
no keys) the page shows everything.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate.core.errors import InvalidRequest
from imagegate.tenancy.usage import DailySpend, biggest_requests, daily_spend, remaining_budgets
from imagegate.web.render import format_usd, render_markup
from imagegate.web.routes import page

DIMENSIONS = ("model", "provider", "key")
PALETTE = ("#2456d6", "#e07b00", "#2a9d5b", "#c23b6e", "#7a4fd0", "#00a0b0", "#8a6d3b", "#5d6470")
MAX_SERIES = len(PALETTE) - 1  # the rest is drawn as "other"


def _window(request: Request) -> tuple[int, datetime, datetime]:
    raw = request.query_params.get("days", "30")
    if not raw.isdigit() or not 1 <= int(raw) <= 366:
        raise InvalidRequest("Invalid 'days': expected a whole number from 1 to 366.", param="days")
    days = int(raw)
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    return days, end - timedelta(days=days), end


def relabel(spend: DailySpend, labels: dict[str, str]) -> DailySpend:
    """The same figures with groups renamed (key ids -> "name (id)")."""
    return DailySpend(
        spend.days, [labels.get(g, g) for g in spend.groups], {labels.get(g, g): v for g, v in spend.usd.items()}
    )


def chart_series(spend: DailySpend) -> list[tuple[str, str, list[float]]]:
    """``(name, colour, usd per day)``, the largest groups first, the rest folded into "other"."""
    named = spend.groups[:MAX_SERIES]
    series = [(g, PALETTE[i], spend.usd[g]) for i, g in enumerate(named)]
    rest = spend.groups[MAX_SERIES:]
    if rest:
        other = [sum(spend.usd[g][d] for g in rest) for d in range(len(spend.days))]
        series.append(("other", PALETTE[-1], other))
    return series


def svg_chart(spend: DailySpend, width: int = 960, height: int = 260) -> str:
    """Stacked daily bars, drawn on the server (readable without JavaScript); every bar has a ``<title>``."""
    series = chart_series(spend)
    totals = [sum(s[2][d] for s in series) for d in range(len(spend.days))]
    top = max(totals, default=0) or 1.0
    left, bottom, plot_h = 64, 28, height - 44
    step = (width - left - 8) / max(1, len(spend.days))
    bar = max(1.0, step * 0.75)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="Spend per day" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for frac in (0, 0.5, 1):
        y = height - bottom - frac * plot_h
        parts.append(f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#dfe2e7"/>')
        parts.append(
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#5d6470">'
            f"{escape(format_usd(top * frac))}</text>"
        )
    for d, day in enumerate(spend.days):
        x = left + d * step + (step - bar) / 2
        y = height - bottom
        for name, colour, values in series:
            v = values[d]
            if v <= 0:
                continue
            h = v / top * plot_h
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(day)} {escape(name)}: {escape(format_usd(v))}</title></rect>"
            )
        if d % max(1, len(spend.days) // 6) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11" '
                f'fill="#5d6470">{escape(day[5:])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


async def usage(request: Request) -> Response:
    services = request.app.state.services
    principal = await services.auth.identify(request.headers.get("authorization"))
    key_id = None if principal is None or principal.is_master else principal.key_id
    days, start, end = _window(request)
    by = request.query_params.get("by", "model")
    if by not in DIMENSIONS:
        raise InvalidRequest(f"Invalid 'by': expected one of {', '.join(DIMENSIONS)}.", param="by")
    tenancy = services.tenancy

    def gather() -> tuple[dict[str, DailySpend], list[dict[str, Any]], list[dict[str, Any]]]:
        per = {dim: daily_spend(services.db, dim, start, end, key_id) for dim in DIMENSIONS}
        names = {k["id"]: k["name"] for k in tenancy.keys.list()}
        per["key"] = relabel(per["key"], {i: f"{names[i]} ({i})" for i in per["key"].groups if i in names})
        return (
            per,
            biggest_requests(services.db, start, end, key_id),
            remaining_budgets(tenancy.keys, tenancy.ledger, key_id),
        )

    per, biggest, budgets = await asyncio.to_thread(gather)
    chosen = per[by]
    totals = {
        dim: [(g, sum(per[dim].usd[g])) for g in per[dim].groups] for dim in DIMENSIONS
    }  # group -> total over the window
    context = {
        "days": days,
        "by": by,
        "dimensions": DIMENSIONS,
        "scope": "all keys" if key_id is None else f"key {key_id}",
        "total_usd": sum(t for _, t in totals["model"]),
        "chart": render_markup(svg_chart(chosen)),
        "series": chart_series(chosen),
        "day_totals": [sum(chosen.usd[g][d] for g in chosen.groups) for d in range(len(chosen.days))],
        "daily": chosen,
        "totals": totals,
        "biggest": biggest,
        "budgets": budgets,
        "start": start.date().isoformat(),
        "end": (end - timedelta(days=1)).date().isoformat(),
    }
    return services.pages.render(request, "usage", context)


def routes() -> list[Route]:
    return page("/usage", usage)
