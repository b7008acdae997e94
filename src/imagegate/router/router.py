"""``Router``: orders a request's candidates and runs the attempt loop over them.

The router knows providers only through the pipeline's ``AttemptFn``. State reads and writes go through a
``RouterState``; a failing state store (Redis down) never fails a request: reads fall back to the last
snapshot seen (or cold priors), writes are dropped with a warning, budget and probe checks fail open.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ProviderPreferences
from imagegate.router.attempts import AttemptLoop
from imagegate.router.clock import Clock, SystemClock
from imagegate.router.config import ModelPolicy, RouterConfig
from imagegate.router.health import StateParams
from imagegate.router.ordering import OfferView, is_last_resort, order_views
from imagegate.router.state import BudgetKind, RouterState, StateSnapshot
from imagegate.router.types import AttemptFn, Candidate, CostFn, RouteResult

log = logging.getLogger("imagegate.router")
T = TypeVar("T")


def state_params(config: RouterConfig) -> StateParams:
    b, rb = config.breaker, config.retry_budget
    horizon = max(config.health.window_s, rb.window_s, b.cooldown_s * 2, config.retry.max_retry_after_s)
    return StateParams(
        bucket_s=config.health.bucket_s,
        buckets=max(1, math.ceil(config.health.window_s / config.health.bucket_s)),
        breaker_enabled=b.enabled,
        consecutive_failures=b.consecutive_failures,
        failure_rate=b.failure_rate,
        min_requests=b.min_requests,
        cooldown_s=b.cooldown_s,
        half_open_probes=b.half_open_probes,
        budget_bucket_s=rb.bucket_s,
        budget_buckets=max(1, math.ceil(rb.window_s / rb.bucket_s)),
        ttl_s=int(horizon * 2) + 60,
    )


class Router:
    def __init__(
        self,
        state: RouterState,
        config: RouterConfig | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.config = config or RouterConfig()
        self.clock: Clock = clock or SystemClock()
        self.rng = rng or random.Random()
        self.params = state_params(self.config)
        self._last: dict[str, StateSnapshot] = {}  # per model: the latest snapshot, for order() without I/O
        self._pauses: dict[tuple[str, str], float] = {}  # pauses this process has seen (wall seconds)
        self._policies: dict[str, tuple[RouterConfig, ModelPolicy]] = {}  # per model, for the config it came from

    def policy_for(self, model_id: str) -> ModelPolicy:
        """The model's routing, weights and hedging, resolved once per model (and again if ``config`` is replaced)."""
        hit = self._policies.get(model_id)
        if hit is not None and hit[0] is self.config:
            return hit[1]
        if len(self._policies) >= 4096:
            self._policies.clear()
        policy = self.config.policy_for(model_id)
        self._policies[model_id] = (self.config, policy)
        return policy

    # ------------------------------------------------------------------ ordering

    def order(
        self,
        model_id: str,
        candidates: list[Candidate],
        prefs: ProviderPreferences | None = None,
        forced_provider: str | None = None,
        snapshot: StateSnapshot | None = None,
    ) -> list[Candidate]:
        """The order ``run`` would try (healthy first, open or paused offers last). No I/O: without a
        snapshot it uses the latest one this router read for the model (or cold priors)."""
        return [v.candidate for v in self._views(model_id, candidates, prefs, forced_provider, snapshot)]

    def views(
        self, model_id: str, candidates: Sequence[Candidate], snapshot: StateSnapshot | None = None
    ) -> list[OfferView]:
        """The order ``order`` gives, with each offer's numbers (P(success), latency, price, score, health): what a
        page shows to explain the router's choice."""
        return self._views(model_id, candidates, None, None, snapshot)

    def _views(
        self,
        model_id: str,
        candidates: Sequence[Candidate],
        prefs: ProviderPreferences | None,
        forced_provider: str | None,
        snapshot: StateSnapshot | None,
    ) -> list[OfferView]:
        snap = snapshot or self._last.get(model_id) or StateSnapshot()
        policy = self.policy_for(model_id)
        return order_views(
            candidates,
            snap,
            routing=policy.routing,
            weights=policy.weights,
            health_cfg=self.config.health,
            prefs=prefs,
            forced_provider=forced_provider,
            now_wall=self.clock.wall(),
            rng=self.rng,
            wait_aware=self._adaptive(model_id, prefs),
        )

    def _adaptive(self, model_id: str, prefs: ProviderPreferences | None) -> bool:
        """Score-driven: ``auto`` without an explicit order or sort (retries and waits compete on score)."""
        return self.policy_for(model_id).routing.policy == "auto" and not (prefs and (prefs.order or prefs.sort))

    async def snapshot(self, model_id: str, providers: Sequence[str], *, count_request: bool = False) -> StateSnapshot:
        now = self.clock.wall()
        snap = await self._safe(
            self.state.snapshot(model_id, providers, now, self.params, count_request=count_request), None
        )
        if snap is None:
            snap = self._last.get(model_id) or StateSnapshot(taken_at=now)
        if self._pauses:
            for p, h in snap.offers.items():  # pauses learned locally survive a failed or stale read
                h.paused_until = max(h.paused_until, self._pauses.get((model_id, p), 0.0))
        self._last[model_id] = snap
        return snap

    # ------------------------------------------------------------------ running

    async def route(
        self,
        model_id: str,
        candidates: list[Candidate],
        attempt: AttemptFn,
        *,
        prefs: ProviderPreferences | None = None,
        forced_provider: str | None = None,
        deadline: float,
        cost_of: CostFn | None = None,
        out: RouteResult | None = None,
    ) -> RouteResult:
        """Try the candidates until one succeeds, and say what happened: the returned ``RouteResult`` carries every
        attempt with its cost, and on failure the error to answer (``AllProvidersExhausted``, ``RateLimitedError``
        when every attempt was rate limited, or the non-retryable ``ProviderError`` that stopped it). Only a request
        no candidate satisfies raises (``InvalidRequest``: nothing was tried). ``out``: the object to fill (and return);
        a caller cancelled mid-route finds there every attempt, the ones in flight recorded as cancelled."""
        loop = await self._loop(model_id, candidates, attempt, prefs, forced_provider, deadline, cost_of, out)
        return await loop.run()

    async def run(
        self,
        model_id: str,
        candidates: list[Candidate],
        attempt: AttemptFn,
        *,
        prefs: ProviderPreferences | None = None,
        forced_provider: str | None = None,
        deadline: float,
        cost_of: CostFn | None = None,
    ) -> RouteResult:
        """``route``, raising its error instead of returning it."""
        loop = await self._loop(model_id, candidates, attempt, prefs, forced_provider, deadline, cost_of, None)
        routed = await loop.run()  # not through ``route``: one coroutine less on the hot path
        if routed.error is not None:
            raise routed.error
        return routed

    async def _loop(
        self,
        model_id: str,
        candidates: list[Candidate],
        attempt: AttemptFn,
        prefs: ProviderPreferences | None,
        forced_provider: str | None,
        deadline: float,
        cost_of: CostFn | None,
        out: RouteResult | None,
    ) -> AttemptLoop:
        snap = await self.snapshot(model_id, [c.provider for c in candidates], count_request=True)
        views = self._views(model_id, candidates, prefs, forced_provider, snap)
        if not views:
            raise InvalidRequest("No provider satisfies the request's provider preferences.", param="provider")
        now_wall = self.clock.wall()
        adaptive = self._adaptive(model_id, prefs)
        n_last_resort = sum(1 for v in views if is_last_resort(v, now_wall, adaptive))
        return AttemptLoop(self, model_id, views, attempt, cost_of, deadline, n_last_resort, adaptive, out)

    # ------------------------------------------------------------------ state access (never fails a request)

    async def _safe(self, op: Awaitable[T], default: T) -> T:
        try:
            return await op
        except Exception as exc:
            log.warning("router state unavailable (%s); continuing without it", type(exc).__name__)
            return default

    async def record(self, model_id: str, provider: str, ok: bool, latency_s: float) -> None:
        await self._safe(self.state.record(model_id, provider, ok, latency_s, self.clock.wall(), self.params), None)

    async def pause(self, model_id: str, provider: str, until_wall: float) -> None:
        key = (model_id, provider)
        self._pauses[key] = max(self._pauses.get(key, 0.0), until_wall)
        if len(self._pauses) > 4096:  # keep only live pauses
            now = self.clock.wall()
            self._pauses = {k: v for k, v in self._pauses.items() if v > now}
        await self._safe(self.state.pause(model_id, provider, until_wall, self.params), None)

    def paused_until(self, model_id: str, provider: str) -> float:
        snap = self._last.get(model_id)
        shared = snap.get(provider).paused_until if snap is not None else 0.0
        return max(shared, self._pauses.get((model_id, provider), 0.0))

    async def acquire_probe(self, model_id: str, provider: str) -> bool:
        return await self._safe(self.state.acquire_probe(model_id, provider, self.clock.wall(), self.params), True)

    async def acquire_budget(
        self, kind: BudgetKind, ratio: float | None = None, min_per_s: float | None = None
    ) -> bool:
        """Take a retry or hedge token; the share defaults to ``retry_budget`` / the global ``hedging``."""
        if ratio is None or min_per_s is None:
            if kind == "retry":
                ratio, min_per_s = self.config.retry_budget.ratio, self.config.retry_budget.min_per_s
            else:
                ratio, min_per_s = self.config.hedging.max_share, self.config.hedging.min_per_s
        return await self._safe(self.state.acquire_budget(kind, ratio, min_per_s, self.clock.wall(), self.params), True)
