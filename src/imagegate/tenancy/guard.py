"""The tenancy guard the API calls around the pipeline: allowed models, rate limits, budget reserve and settle.

    headers = await tenancy.admit_call(principal)           # every API call: requests per minute
    async with tenancy.hold(principal, image_request) as hold:   # 403 / 429 / 402 before anything runs
        answer = await gateway.run(image_request)
        hold.settle(answer.cost_micros)

Leaving the block without ``settle`` (an error, a cancelled request) releases the reservation, or settles it at the
error's ``cost_micros`` when the error carries one (a provider billed before the request failed).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Any

from imagegate.core.errors import GatewayError, InvalidRequest, RateLimitedError
from imagegate.core.types import ImageRequest
from imagegate.pipeline import Gateway, GatewayAnswer
from imagegate.tenancy.budgets import BudgetLedger, Reservation, Usage
from imagegate.tenancy.directory import KeyDirectory
from imagegate.tenancy.keystore import KeyStore
from imagegate.tenancy.policy import MASTER, MICROS, KeyPolicy, Principal, model_not_allowed
from imagegate.tenancy.ratelimit import Decision, RateLimiter, duration


def worst_case_micros(gateway: Gateway, request: ImageRequest) -> int:
    """The dry run's maximum over every offer the router may try for ``request`` (``n`` included)."""
    model, forced, planned = gateway.plan(request)
    ordered = gateway.router.order(model.id, [p.candidate for p in planned], request.preferences, forced)
    return max((c.estimated_cost_micros for c in ordered), default=0)


def _usd(micros: int) -> float:
    return round(micros / MICROS, 6)


def rate_headers(decision: Decision, what: str = "requests") -> dict[str, str]:
    """OpenAI's ``x-ratelimit-{limit,remaining,reset}-requests`` (``-images`` for images per minute)."""
    headers = {
        f"x-ratelimit-limit-{what}": str(decision.limit),
        f"x-ratelimit-remaining-{what}": str(decision.remaining),
        f"x-ratelimit-reset-{what}": duration(decision.reset_s),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(max(1, int(-(-decision.retry_after_s // 1))))
        headers["retry-after-ms"] = str(max(1, round(decision.retry_after_s * 1000)))
    return headers


def rate_limited(what: str, limit: int, decision: Decision, headers: dict[str, str]) -> RateLimitedError:
    return RateLimitedError(
        f"Rate limit reached: {limit} {what} per minute for this API key; retry in {decision.retry_after_s:.1f} s.",
        headers=headers,
    )


def insufficient_balance(policy: KeyPolicy, estimate: int, remaining: int, what: str) -> GatewayError:
    err = GatewayError(
        f"Insufficient balance: {what} may cost up to ${_usd(estimate):.6f} and the key's "
        f"{policy.budget_period} budget has ${_usd(remaining):.6f} left.",
        status=402,
        code="INSUFFICIENT_BALANCE",
        details={"estimate_usd": _usd(estimate), "remaining_usd": _usd(remaining)},
    )
    err.type = "insufficient_balance"
    return err


class Hold:
    """One image request's passage through the guard (see the module docstring)."""

    def __init__(self, tenancy: Tenancy, principal: Principal | None, request: ImageRequest, dry_run: bool) -> None:
        self._tenancy = tenancy
        self._policy: KeyPolicy | None = principal.policy if principal else None
        self._request = request
        self._dry_run = dry_run
        self.reservation: Reservation | None = None
        self.cost_micros: int | None = None

    def settle(self, cost_micros: int) -> None:
        self.cost_micros = cost_micros

    async def __aenter__(self) -> Hold:
        policy, request, t = self._policy, self._request, self._tenancy
        if policy is None:
            return self
        model, _forced = t.gateway.catalog.resolve(request.model)
        if not policy.allows(model.id):
            raise model_not_allowed(policy, model.id)
        if request.preferences is None and policy.routing:
            request.preferences = policy.preferences()
        if self._dry_run:
            return self
        covered = policy.budget_covers(model.id)
        estimate = worst_case_micros(t.gateway, request) if covered else 0
        if policy.images_per_minute:
            if request.n > policy.images_per_minute:
                raise InvalidRequest(
                    f"n={request.n} is more than this API key's {policy.images_per_minute} images per minute.",
                    param="n",
                )
            decision = await t.limiter.hit(f"{policy.key_id}:images", policy.images_per_minute, request.n)
            if not decision.allowed:
                raise rate_limited("images", policy.images_per_minute, decision, rate_headers(decision, "images"))
        if covered:
            assert policy.budget_micros is not None and policy.budget_period is not None
            held = await asyncio.to_thread(
                t.ledger.reserve, policy.key_id, policy.budget_micros, policy.budget_period, estimate
            )
            if isinstance(held, Usage):
                remaining = max(0, policy.budget_micros - held.spent_micros - held.reserved_micros)
                raise insufficient_balance(policy, estimate, remaining, "this request")
            self.reservation = held
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.reservation is None:
            return
        cost = self.cost_micros if exc is None else getattr(exc, "cost_micros", None)
        # shielded: a cancelled request still gives its hold back
        await asyncio.shield(asyncio.to_thread(self._tenancy.ledger.settle, self.reservation, int(cost or 0)))


class Tenancy:
    def __init__(self, *, keys: KeyStore, ledger: BudgetLedger, limiter: RateLimiter, gateway: Gateway) -> None:
        self.keys = keys
        self.directory = KeyDirectory(keys)  # the authenticator's look-up of database keys
        self.ledger = ledger
        self.limiter = limiter
        self.gateway = gateway

    async def admit_call(self, principal: Principal | None) -> dict[str, str]:
        """Count one API call against the key's requests per minute: the ``x-ratelimit-*`` headers of its answer,
        or ``RateLimitedError`` (429 with ``Retry-After``)."""
        policy = principal.policy if principal else None
        if policy is None or not policy.requests_per_minute:
            return {}
        decision = await self.limiter.hit(f"{policy.key_id}:requests", policy.requests_per_minute)
        headers = rate_headers(decision)
        if not decision.allowed:
            raise rate_limited("requests", policy.requests_per_minute, decision, headers)
        return headers

    def hold(self, principal: Principal | None, request: ImageRequest, *, dry_run: bool = False) -> Hold:
        return Hold(self, principal, request, dry_run)

    async def run(self, principal: Principal | None, request: ImageRequest, **kwargs: Any) -> GatewayAnswer:
        """``Gateway.run`` under the key's policy: allowed models, images per minute, the budget reserved before
        and settled after. Every path that generates for a key (images, streams, chat, jobs) goes through here."""
        async with self.hold(principal, request) as hold:
            answer = await self.gateway.run(request, **kwargs)
            hold.settle(answer.cost_micros)
            return answer

    async def charge(self, key_id: str | None, model_id: str, cost_micros: int) -> None:
        """Spend that ran without a reservation (the Gemini batch mode's lines) goes into the key's budget."""
        principal = await self.principal(key_id)
        policy = principal.policy if principal else None
        if policy is None or policy.budget_period is None or not policy.budget_covers(model_id):
            return
        await asyncio.to_thread(self.ledger.charge, policy.key_id, policy.budget_period, cost_micros)

    async def principal(self, key_id: str | None) -> Principal | None:
        """The ``Principal`` of a request stored by key id (jobs, batch lines): a database key's current policy;
        a static key, the master key or no auth have none."""
        if not key_id:
            return None
        policy = None if key_id == MASTER else await asyncio.to_thread(self.keys.policy, key_id)
        return Principal(key_id, policy)

    async def check_budget(self, principal: Principal | None, estimate_micros: int, what: str) -> None:
        """402 INSUFFICIENT_BALANCE when ``estimate_micros`` exceeds what the key's budget has left (reserved
        holds count as spent). Reserves nothing: each request reserves its own share when it runs."""
        policy = principal.policy if principal else None
        if policy is None or policy.budget_micros is None or policy.budget_period is None:
            return
        usage = await asyncio.to_thread(self.ledger.usage, policy.key_id, policy.budget_period)
        remaining = max(0, policy.budget_micros - usage.spent_micros - usage.reserved_micros)
        if estimate_micros > remaining:
            raise insufficient_balance(policy, estimate_micros, remaining, what)

    async def balance(self, principal: Principal | None) -> dict[str, Any]:
        """``GET /v1/balance``: nulls where the key has no budget."""
        policy = principal.policy if principal else None
        if policy is None or policy.budget_micros is None or policy.budget_period is None:
            return dict.fromkeys(("budget_usd", "spent_usd", "reserved_usd", "remaining_usd", "period", "period_end"))
        usage = await asyncio.to_thread(self.ledger.usage, policy.key_id, policy.budget_period)
        remaining = max(0, policy.budget_micros - usage.spent_micros - usage.reserved_micros)
        end = usage.period_end
        return {
            "budget_usd": _usd(policy.budget_micros),
            "spent_usd": _usd(usage.spent_micros),
            "reserved_usd": _usd(usage.reserved_micros),
            "remaining_usd": _usd(remaining),
            "period": policy.budget_period,
            "period_end": end.isoformat().replace("+00:00", "Z") if end else None,
        }

    async def aclose(self) -> None:
        await self.limiter.aclose()
