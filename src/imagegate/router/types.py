"""What the pipeline hands the router and what it gets back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from imagegate.catalog.schema import Offer
from imagegate.core.errors import GatewayError, ProviderError
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
    """What one attempt is told. The router alone enforces both limits (its clock, ``Clock.timeout``); the
    attempt only passes them on to the provider as hints (Replicate's ``Prefer: wait``, ``Cancel-After``)."""

    timeout_s: float  # this attempt's time limit: min(its own timeout, the time left before the deadline)
    hedged: bool  # True for an attempt started in parallel with a slower one
    attempt_index: int  # 0-based, in start order
    deadline: float = 0.0  # the request's deadline on the router's clock (monotonic)
    retry: bool = False  # True when this offer was already tried in this request


AttemptFn = Callable[[Candidate, AttemptContext], Awaitable[ImageResult]]
CostFn = Callable[[Candidate, ImageResult], int]


@dataclass(slots=True)
class RouteResult:
    """The one answer of the attempt loop (``Router.route``), success or not.

    ``attempts``: every attempt started, in start order, each with its own cost (``cost_of`` for a success, the
    offer's estimate for a cancelled one the provider may still bill, 0 for a failure). On success ``result``,
    ``candidate`` and ``winner`` (the winning ``Attempt``, whose ``cost_micros`` is the request's cost) are set;
    otherwise ``error`` says why: ``AllProvidersExhausted`` / ``RateLimitedError`` (a ``GatewayError``) or the
    non-retryable ``ProviderError`` that stopped the loop. ``unwrap`` returns the result or raises the error.
    """

    attempts: list[Attempt] = field(default_factory=list)
    result: ImageResult | None = None
    candidate: Candidate | None = None
    winner: Attempt | None = None
    error: GatewayError | ProviderError | None = None

    @property
    def cost_micros(self) -> int:
        """What the request costs the client: the winning attempt's cost (0 without a winner)."""
        return self.winner.cost_micros if self.winner is not None else 0

    def unwrap(self) -> ImageResult:
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result
