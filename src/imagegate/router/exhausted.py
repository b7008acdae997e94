"""The error of a route that ran out of offers: every attempt listed, 429 when every one was rate limited."""

from __future__ import annotations

import math
from collections.abc import Iterable

from imagegate.core.errors import AllProvidersExhausted, GatewayError, ProviderError, RateLimitedError
from imagegate.core.types import Attempt
from imagegate.router.config import RouterConfig


def exhausted_error(
    model_id: str, attempts: list[Attempt], errors: Iterable[ProviderError], stop_reason: str | None, cfg: RouterConfig
) -> GatewayError:
    parts = [
        f"{a.provider} {a.outcome}{f' ({a.status})' if a.status else ''} after {a.latency_ms:.0f} ms"
        + (f": {a.error}" if a.error else "")
        for a in attempts
    ]
    msg = f"All providers failed for model '{model_id}' after {len(attempts)} attempt(s)"
    msg += (": " + "; ".join(parts)) if parts else ""
    if stop_reason:
        msg += f" ({stop_reason})"
    details = {"attempts": [_attempt_detail(a) for a in attempts]}
    if attempts and cfg.retry.rate_limited_as_429 and all(a.outcome == "RateLimited" for a in attempts):
        waits = [e.retry_after for e in errors if e.retry_after]
        headers = {"Retry-After": str(max(1, math.ceil(min(waits))))} if waits else {}
        return RateLimitedError(msg, details=details, headers=headers)
    return AllProvidersExhausted(msg, details=details)


def _attempt_detail(a: Attempt) -> dict[str, object]:
    return {"provider": a.provider, "outcome": a.outcome, "latency_ms": round(a.latency_ms, 1), "status": a.status,
            "error": a.error}  # fmt: skip
