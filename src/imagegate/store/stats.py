"""Per-provider latency and success figures for one model, computed from the ``attempts`` log.

Computed in Python from the raw rows of the window (four narrow columns, streamed), so the same code gives the same
numbers on SQLite and PostgreSQL; percentiles interpolate linearly between ranks (numpy's default method).

Definitions (per provider, attempts at ``model_id`` created at or after ``since``):
- ``requests``: attempts made (a retry at the same provider counts again); hedge losers that were cancelled
  (outcome ``cancelled``, any case) are left out: they say nothing about the provider.
- ``successes`` / ``success_rate``: attempts with outcome ``success``.
- ``latency_*_ms`` (generation time) and ``ttfb_*_ms``: over successful attempts only, so fast failures (a 429 in
  20 ms) do not flatter a provider. ``None`` when there is no sample.
- ``spend_micros``: the cost of the provider's attempts (what it billed, as priced); ``possibly_billed`` /
  ``possibly_billed_micros``: attempts cancelled in flight (lost hedges, clients gone) that the provider may still
  bill, counted at their estimate, apart from the spend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from imagegate.store.db import Database


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of already sorted values, linear interpolation; ``None`` when empty."""
    if not sorted_values:
        return None
    pos = (len(sorted_values) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples: Sequence[tuple[str, str, float, float | None, int, bool]]) -> list[dict[str, Any]]:
    """Per-provider figures from ``(provider, outcome, latency_ms, ttfb_ms, cost_micros, possibly_billed)`` samples,
    sorted by provider."""
    by_provider: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for provider, outcome, latency_ms, ttfb_ms, cost_micros, possibly_billed in samples:
        counts, latencies, ttfbs = by_provider.setdefault(provider, ([0, 0, 0, 0, 0], [], []))
        if possibly_billed:
            counts[3] += 1
            counts[4] += cost_micros
        else:
            counts[2] += cost_micros
        if outcome.lower() == "cancelled":
            continue
        counts[0] += 1
        if outcome == "success":
            counts[1] += 1
            latencies.append(latency_ms)
            if ttfb_ms is not None:
                ttfbs.append(ttfb_ms)
    out: list[dict[str, Any]] = []
    for provider in sorted(by_provider):
        (total, ok, spend, maybe, maybe_micros), latencies, ttfbs = by_provider[provider]
        latencies.sort()
        ttfbs.sort()
        out.append(
            {
                "provider": provider,
                "requests": total,
                "successes": ok,
                "success_rate": ok / total if total else None,
                "latency_p50_ms": percentile(latencies, 50),
                "latency_p95_ms": percentile(latencies, 95),
                "latency_avg_ms": sum(latencies) / len(latencies) if latencies else None,
                "ttfb_p50_ms": percentile(ttfbs, 50),
                "ttfb_p95_ms": percentile(ttfbs, 95),
                "spend_micros": spend,
                "possibly_billed": maybe,
                "possibly_billed_micros": maybe_micros,
            }
        )
    return out


def provider_stats(db: Database, model_id: str, since: datetime) -> list[dict[str, Any]]:
    """Per-provider figures for ``model_id`` since ``since``. Blocking: call it through ``asyncio.to_thread``."""
    return summarize(db.attempt_samples(model_id, since))
