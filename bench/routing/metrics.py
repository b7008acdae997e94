"""Figures of one run: success, latency (scaled back to real seconds), attempts, cost per successful image.

Cost, two ways:

- ``cost_billed``: what the gateway recorded as billed: the sum of ``cost_micros`` over every attempt in its
  request log (successful attempts only: failed ones are not billed; a hedge loser that finished is billed, one
  that was cancelled is not), over successful requests. For LiteLLM (it does not know our fakes' prices): each
  successful request billed at its provider's price.
- ``cost_worst``: every generation a provider finished on its side, billed at its price, whether or not the
  caller was still waiting (a cancelled hedge or a timed-out call may still be billed by a real provider), over
  successful requests. Counted by the fakes themselves, the same way for every system.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

# $ per 1K image: Gemini/Vertex are token-priced (1120 image tokens at $120/M = $0.1344, plus the input prompt
# and the text tokens the fakes report: the gateway bills $0.136268 per success on them), Replicate and fal
# $0.15 per image. The cheapest offer is Gemini's.
PRICES = {"gemini": 0.136268, "vertex": 0.136268, "fal": 0.15, "replicate": 0.15}
LIST_PRICE_1K = 0.1344  # Gemini's list price per 1K image, image tokens only
CHEAPEST = min(PRICES.values())


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(run: dict[str, Any], time_scale: float) -> dict[str, Any]:
    records = run["records"]
    n = len(records)
    ok = [r for r in records if r["ok"]]
    lat = [r["latency_s"] / time_scale for r in ok]
    counts: dict[str, dict[str, int]] = run["fake_counts"]
    fake_attempts = sum(sum(c.values()) for c in counts.values())
    fake_ok = {p: c.get("ok", 0) for p, c in counts.items()}
    served = Counter(r.get("provider") or "?" for r in ok)
    out: dict[str, Any] = {
        "system": run["system"],
        "requests": n,
        "successes": len(ok),
        "success_pct": 100.0 * len(ok) / n if n else 0.0,
        "p50_s": quantile(lat, 0.5),
        "p95_s": quantile(lat, 0.95),
        "p99_s": quantile(lat, 0.99),
        "mean_s": sum(lat) / len(lat) if lat else None,
        "attempts_per_request": fake_attempts / n if n else 0.0,
        "served": dict(served),
        "fake_counts": counts,
        "wall_s": run["wall_s"],
        "cost_worst": sum(fake_ok[p] * PRICES.get(p, CHEAPEST) for p in fake_ok) / len(ok) if ok else None,
    }
    if "attempts" in (records[0] if records else {}):  # imagegate: the gateway's own request log
        attempts = [a for r in records for a in r["attempts"]]
        out["gateway_attempts_per_request"] = len(attempts) / n if n else 0.0
        out["cost_billed"] = sum(a["cost_micros"] for a in attempts) / 1e6 / len(ok) if ok else None
        hedged_requests = [r for r in records if any(a["hedged"] for a in r["attempts"])]
        out["hedged_requests"] = len(hedged_requests)
        out["cancelled_attempts"] = sum(1 for a in attempts if a["outcome"] == "cancelled")
        out["outcomes"] = dict(Counter(f"{a['provider']}:{a['outcome']}" for a in attempts))
        out["client_calls_per_request"] = sum(len(r["calls"]) for r in records) / n if n else 0.0
    else:
        out["cost_billed"] = sum(PRICES.get(r.get("provider") or "", CHEAPEST) for r in ok) / len(ok) if ok else None
        out["errors"] = dict(Counter(r.get("error") or "ok" for r in records))
    return out
