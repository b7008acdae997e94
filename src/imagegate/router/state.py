"""``RouterState``: where health windows, breakers, pauses and budget counters live.

``MemoryRouterState`` serves one process; ``RedisRouterState`` (``redis_state.py``) shares the same fields
between workers and replicas. All times passed in are wall-clock seconds (``Clock.wall``), so every process
agrees on them. Both apply updates with the functions in ``health.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from imagegate.router import health
from imagegate.router.health import OfferHealth, StateParams

BudgetKind = Literal["retry", "hedge"]
BUDGET_FIELD = {"retry": "t", "hedge": "g"}


@dataclass(slots=True)
class StateSnapshot:
    """What ordering needs for one request, read in one go."""

    offers: dict[str, OfferHealth] = field(default_factory=dict)  # provider -> health
    taken_at: float = 0.0  # wall seconds

    def get(self, provider: str) -> OfferHealth:
        return self.offers.get(provider) or OfferHealth()


@runtime_checkable
class RouterState(Protocol):
    async def snapshot(
        self, model_id: str, providers: Sequence[str], now_wall: float, params: StateParams, *, count_request: bool
    ) -> StateSnapshot:
        """Health of each provider for this model; with ``count_request`` also count one request toward the
        retry and hedge budgets. One round trip for a shared store."""
        ...

    async def record(
        self, model_id: str, provider: str, ok: bool, latency_s: float, now_wall: float, params: StateParams
    ) -> None:
        """Count one finished attempt and apply the breaker's transitions atomically."""
        ...

    async def pause(self, model_id: str, provider: str, until_wall: float, params: StateParams) -> None: ...

    async def acquire_probe(self, model_id: str, provider: str, now_wall: float, params: StateParams) -> bool:
        """May a half-open breaker let one more probe through? (True when not open at all.)"""
        ...

    async def acquire_budget(
        self, kind: BudgetKind, ratio: float, min_per_s: float, now_wall: float, params: StateParams
    ) -> bool:
        """Take one retry (or hedge) token if the share of traffic allows it."""
        ...

    async def aclose(self) -> None: ...


class MemoryRouterState:
    """Process-local state; asyncio runs one coroutine at a time, so plain dicts are atomic enough.

    Besides the fields (the same as in Redis), it keeps each offer's window sums (``health.WindowTally``) up to date
    on every record, so a snapshot reads a few numbers instead of parsing the window's fields; a tally is rebuilt
    from the fields when the window moves to another bucket.
    """

    def __init__(self) -> None:
        self._offers: dict[tuple[str, str], dict[str, float]] = {}
        self._tallies: dict[tuple[str, str], health.WindowTally] = {}
        self._budget: dict[str, float] = {}

    def _fields(self, model_id: str, provider: str) -> dict[str, float]:
        return self._offers.setdefault((model_id, provider), {})

    async def snapshot(
        self, model_id: str, providers: Sequence[str], now_wall: float, params: StateParams, *, count_request: bool
    ) -> StateSnapshot:
        if count_request:
            health.budget_take(self._budget, now_wall, "r", 0.0, 0.0, params)
        cur = health.current_bucket(now_wall, params)
        offers: dict[str, OfferHealth] = {}
        for p in providers:
            if p in offers:
                continue
            key = (model_id, p)
            fields = self._offers.get(key)
            if not fields:
                offers[p] = OfferHealth()
                continue
            t = self._tallies.get(key)
            if t is None or t.cur != cur or (t.params is not params and t.params != params):
                t = self._tallies[key] = health.tally(fields, cur, params)
            offers[p] = health.health_of(t, fields, now_wall, params, share=True)
        return StateSnapshot(offers=offers, taken_at=now_wall)

    async def record(
        self, model_id: str, provider: str, ok: bool, latency_s: float, now_wall: float, params: StateParams
    ) -> None:
        key = (model_id, provider)
        latency_ms = latency_s * 1000.0
        health.record_outcome(self._fields(model_id, provider), now_wall, ok, latency_ms, params)
        t = self._tallies.get(key)
        if t is not None:
            if t.cur == health.current_bucket(now_wall, params) and (t.params is params or t.params == params):
                health.tally_add(t, ok, latency_ms)
            else:  # another bucket: the next snapshot rebuilds it from the fields
                del self._tallies[key]

    async def pause(self, model_id: str, provider: str, until_wall: float, params: StateParams) -> None:
        health.pause(self._fields(model_id, provider), until_wall)

    async def acquire_probe(self, model_id: str, provider: str, now_wall: float, params: StateParams) -> bool:
        return health.acquire_probe(self._fields(model_id, provider), now_wall, params)

    async def acquire_budget(
        self, kind: BudgetKind, ratio: float, min_per_s: float, now_wall: float, params: StateParams
    ) -> bool:
        return health.budget_take(self._budget, now_wall, BUDGET_FIELD[kind], ratio, min_per_s, params)

    async def aclose(self) -> None:
        return None
