"""What the pipeline hands the router and what it gets back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imagegate.catalog.schema import Offer
from imagegate.core.types import Attempt, ImageResult


@dataclass(slots=True, eq=False)
class Candidate:
    """One offer that can serve this request (built by the pipeline). Compared by identity."""

    offer: Offer
    estimated_cost_micros: int
    queue_wait_s: float = 0.0  # a local offer's expected queue wait, priced into its score like a Retry-After

    @property
    def provider(self) -> str:
        return self.offer.provider


@dataclass(slots=True)
class AttemptContext:
    timeout_s: float  # this attempt's time limit (the router also enforces it)
    hedged: bool  # True for an attempt started in parallel with a slower one
    attempt_index: int  # 0-based, in start order
    deadline: float = 0.0  # the request's deadline on the router's clock (monotonic)
    retry: bool = False  # True when this offer was already tried in this request


AttemptFn = Callable[[Candidate, AttemptContext], Awaitable[ImageResult]]
CostFn = Callable[[Candidate, ImageResult], int]


@dataclass(slots=True)
class RouteResult:
    result: ImageResult
    candidate: Candidate
    attempts: list[Attempt] = field(default_factory=list)
