"""An attempt's time limit: the one place where it is decided (the attempt loop enforces it on its clock).

Two limits bound an attempt: its own timeout and the request's deadline. ``attempt_limit`` says how long the next
attempt may run and which of the two that is, so a Timeout is recorded with the limit that fired.
"""

from __future__ import annotations

import math
from typing import Literal

from imagegate.router.config import RouterConfig
from imagegate.router.ordering import OfferView

Limit = Literal["attempt_timeout", "request_deadline"]
LIMITS: tuple[Limit, ...] = ("attempt_timeout", "request_deadline")


def attempt_limit(view: OfferView, remaining: float, untried_others: int, cfg: RouterConfig) -> tuple[float, Limit]:
    """Seconds the attempt on ``view`` may run, and which limit that is. Measured offers: ``multiplier`` x their
    observed p95 (at least ``floor_s``). Cold offers: ``cold_s`` when set, else ``cold_multiplier`` x the catalog's
    ``expected`` p95 (time-scaled like the latency prior). While another offer is still untried, ``failover_reserve``
    of the time left is kept back for it, so that one offer that never answers cannot spend the whole deadline."""
    t = cfg.attempt_timeout
    h = view.health
    expected = view.candidate.offer.expected
    limit = math.inf
    if h.successes >= cfg.health.min_samples and (p95 := h.quantile_s(0.95)) is not None:
        limit = max(t.floor_s, t.multiplier * p95)
    elif t.cold_s is not None:
        limit = t.cold_s
    elif expected is not None and expected.p95_ms is not None:
        limit = max(t.floor_s, t.cold_multiplier * expected.p95_ms / 1000.0 * cfg.health.expected_latency_scale)
    if untried_others > 0 and t.failover_reserve > 0:
        limit = min(limit, remaining * (1.0 - t.failover_reserve))
    if limit < remaining:
        return limit, "attempt_timeout"
    return remaining, "request_deadline"
