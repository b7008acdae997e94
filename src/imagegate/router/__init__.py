"""Routing: order a request's offers by health, latency, price and preferences; run attempts with failover,
retries under a budget, circuit breakers and optional hedging. State in memory or shared through Redis.

See docs/routing.md.
"""

from imagegate.router.clock import Clock, SystemClock
from imagegate.router.config import RouterConfig, RouterConfigError
from imagegate.router.health import OfferHealth, StateParams
from imagegate.router.redis_state import RedisRouterState
from imagegate.router.router import Router, state_params
from imagegate.router.state import MemoryRouterState, RouterState, StateSnapshot
from imagegate.router.types import AttemptContext, AttemptFn, Candidate, CostFn, RouteResult

__all__ = [
    "AttemptContext",
    "AttemptFn",
    "Candidate",
    "Clock",
    "CostFn",
    "MemoryRouterState",
    "OfferHealth",
    "RedisRouterState",
    "RouteResult",
    "Router",
    "RouterConfig",
    "RouterConfigError",
    "RouterState",
    "StateParams",
    "StateSnapshot",
    "SystemClock",
    "state_params",
]
