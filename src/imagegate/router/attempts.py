"""The attempt loop of one request: failover, retries with backoff, per-attempt timeouts, hedging.

At most two attempts are in flight (a primary and one hedge). The loop waits for the first of: an attempt
finishing, an attempt's time limit, the hedge point, the request's deadline, all on the router's clock: this is
the one place where both limits are enforced, and the recorded Timeout says which one fired (``limit_hit``).
Tests drive the same code on ``imagegate.testing.clock.FakeClock``. Every attempt started ends up in the
``RouteResult``'s ``attempts`` (start order) as soon as it is over, so a caller cancelled mid-route still has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from imagegate.core.backoff import exponential, full_jitter
from imagegate.core.errors import (
    AuthFailed,
    GatewayError,
    ProviderError,
    Timeout,
)
from imagegate.core.types import Attempt, ImageResult
from imagegate.router import inline
from imagegate.router.exhausted import exhausted_error
from imagegate.router.limits import LIMITS, attempt_limit
from imagegate.router.ordering import OfferView, delayed_score, refresh, score_views
from imagegate.router.types import AttemptContext, AttemptFn, CostFn, RouteResult

if TYPE_CHECKING:
    from imagegate.router.router import Router

log = logging.getLogger("imagegate.router")
_EPS = 1e-6


@dataclass(slots=True, eq=False)
class Flight:
    view: OfferView
    ctx: AttemptContext
    task: asyncio.Future[ImageResult]
    started: float  # clock.now()
    started_wall: float
    timeout_at: float
    limit: str  # which limit ``timeout_at`` is: "attempt_timeout" or "request_deadline"
    hedged: bool  # ran in a hedged race (the hedge itself, or a primary that got one)
    pending: Awaitable[ImageResult] | None = None  # an inline attempt not yet awaited (``task`` is its outcome)


@dataclass(slots=True)
class QueueItem:
    view: OfferView
    pass_no: int  # which try of this offer: 1 = the first, 2+ = retries
    last_resort: bool


class AttemptLoop:
    def __init__(
        self,
        router: Router,
        model_id: str,
        views: list[OfferView],
        attempt: AttemptFn,
        cost_of: CostFn | None,
        deadline: float,
        n_last_resort: int,
        adaptive: bool = False,
        out: RouteResult | None = None,
    ) -> None:
        self.r = router
        self.cfg = router.config
        self.clock = router.clock
        self.model_id = model_id
        self.views = views
        self.attempt_fn = attempt
        self.cost_of = cost_of
        self.deadline = deadline
        self.policy = router.policy_for(model_id)
        self.hedging = self.policy.hedging
        # Without hedging one attempt at a time: await it inline (see inline.py), on whatever clock.
        self.inline = not self.hedging.enabled
        self.out = out if out is not None else RouteResult()
        split = len(views) - n_last_resort
        self.queue: deque[QueueItem] = deque(QueueItem(v, 1, i >= split) for i, v in enumerate(views))
        self.tries: dict[int, int] = {}  # by candidate id: attempts started
        self.adaptive = adaptive
        self.inflight: dict[asyncio.Future[ImageResult], Flight] = {}
        self.records: dict[int, Attempt] = {}
        self.errors: dict[int, ProviderError] = {}  # by candidate id: the latest error
        self.local_pauses: dict[str, float] = {}  # provider -> wall s: a lone 429's retry-after, this request only
        self.started = 0
        self.hedges = 0
        self.hedge_blocked = False
        self.stop_reason: str | None = None

    # ------------------------------------------------------------------ main loop

    async def run(self) -> RouteResult:
        """Fill and return ``out``. A cancellation of the request propagates after every attempt in flight was
        settled (recorded as cancelled, possibly billed) into ``out``."""
        try:
            while True:
                if not self.inflight:
                    if self.clock.now() >= self.deadline - _EPS:
                        self.stop_reason = self.stop_reason or "request deadline exceeded"
                        break
                    item = await self._next()
                    if item is None:
                        break
                    self._start(item, hedged=False)
                done = await self._wait(self._wake_time())
                if done:
                    if await self._finish_done(done):
                        return self.out
                else:
                    await self._on_timer()
        finally:
            for flight in list(self.inflight.values()):
                await self._settle_loser(flight)
        self.out.error = self._exhausted()
        return self.out

    def _wake_time(self) -> float:
        wake = min([self.deadline, *(f.timeout_at for f in self.inflight.values())])
        hedge_at = self._hedge_at()
        return min(wake, hedge_at) if hedge_at is not None else wake

    async def _wait(self, wake: float) -> set[asyncio.Future[ImageResult]]:
        if len(self.inflight) == 1:
            flight = next(iter(self.inflight.values()))
            if flight.pending is not None:
                delay = wake - self.clock.now()
                if delay > _EPS:
                    attempt, flight.pending = flight.pending, None
                    await inline.run_inline(attempt, flight.task, self.clock.timeout(delay))
                return {flight.task} if flight.task.done() else set()
        tasks = set(self.inflight)
        delay = wake - self.clock.now()
        if delay > _EPS:
            timer = asyncio.ensure_future(self.clock.sleep(delay))
            try:
                await asyncio.wait(tasks | {timer}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                timer.cancel()
        return {t for t in tasks if t.done()}

    # ------------------------------------------------------------------ starting attempts

    async def _next(self) -> QueueItem | None:
        while True:
            item = self._pick()
            if item is None:
                return None
            if self.started >= self.cfg.retry.max_attempts:
                self.stop_reason = f"max_attempts ({self.cfg.retry.max_attempts}) reached"
                return None
            probing = item.pass_no == 1 and not item.last_resort and item.view.health.breaker == "half_open"
            if probing and not await self.r.acquire_probe(self.model_id, item.view.provider):
                self.queue.append(QueueItem(item.view, 1, True))  # no probe slot: last resort
                continue
            if self.started > 0 and not await self.r.acquire_budget("retry"):
                self.stop_reason = "retry budget exhausted"
                return None
            delay = 0.0
            if item.pass_no > 1:
                retry = self.cfg.retry
                backoff = exponential(item.pass_no - 2, retry.backoff_base_s, retry.backoff_cap_s)
                delay = full_jitter(backoff, self.r.rng)
            if item.pass_no > 1 or not item.last_resort:  # a last resort goes at once; others wait out a pause
                delay = max(delay, self._paused_until(item.view.provider) - self.clock.wall())
            if delay > 0 and self.clock.now() + delay >= self.deadline:
                if item.pass_no == 1:  # a first try whose pause outlasts the request: the last resort, now
                    return item
                self.tries[id(item.view.candidate)] = self.cfg.retry.max_attempts_per_offer  # out of time
                continue
            if delay > 0:
                await self.clock.sleep(delay)
            return item

    def _retryable(self, v: OfferView) -> bool:
        e = self.errors.get(id(v.candidate))
        return (
            e is not None
            and e.retryable
            and not isinstance(e, AuthFailed)
            and self.tries.get(id(v.candidate), 0) < self.cfg.retry.max_attempts_per_offer
        )

    def _pick(self) -> QueueItem | None:
        """The next offer to try. Under a score-driven order (``adaptive``) a retry of an offer that failed
        competes with the untried ones on its score (x ``retry_penalty``): after a Gemini failure, another
        Gemini attempt (p = 0.93) beats a first Vertex one (p = 0.67). An offer that answered with a
        Retry-After (or is paused) competes with the wait until then added to its expected time: 5 s more
        for Gemini still beats a first try on a slower provider, a minute does not; ``_next`` waits it out.
        Otherwise: every offer once, in order, then retry rounds. Paused offers are retried only when nothing
        else is left."""
        head = self.queue[0] if self.queue else None
        if self.adaptive:
            now_wall = self.clock.wall()
            best: OfferView | None = None
            best_score = math.inf
            for v in self.views:
                if not self._retryable(v) or v.health.breaker == "open":
                    continue
                score = self._score_now(v, now_wall) * self.cfg.retry.retry_penalty
                if score < best_score:
                    best, best_score = v, score
            if best is not None and (
                head is None or head.last_resort or best_score < self._score_now(head.view, now_wall)
            ):
                return QueueItem(best, self.tries.get(id(best.candidate), 0) + 1, False)
        if head is not None:
            return self.queue.popleft()
        retry = [v for v in self.views if self._retryable(v)]
        if not retry:
            return None
        self.queue.extend(QueueItem(v, self.tries.get(id(v.candidate), 0) + 1, False) for v in retry)
        return self.queue.popleft()

    def _score_now(self, v: OfferView, now_wall: float) -> float:
        """``v``'s score with the wait until its pause (for everyone, or this request's own) ends added."""
        return delayed_score(v, self._paused_until(v.provider) - now_wall, self.views, self.policy.weights)

    def _start(self, item: QueueItem, *, hedged: bool) -> Flight:
        tries = self.tries
        untried_others = len(self.views) - len(tries) - (0 if id(item.view.candidate) in tries else 1)
        remaining = max(0.0, self.deadline - self.clock.now())
        timeout, limit = attempt_limit(item.view, remaining, untried_others, self.cfg)
        ctx = AttemptContext(
            timeout_s=timeout, hedged=hedged, attempt_index=self.started, deadline=self.deadline,
            retry=item.pass_no > 1,
        )  # fmt: skip
        self.started += 1
        key = id(item.view.candidate)
        self.tries[key] = self.tries.get(key, 0) + 1
        now = self.clock.now()
        attempt = self.attempt_fn(item.view.candidate, ctx)
        if self.inline:
            task: asyncio.Future[ImageResult] = asyncio.get_running_loop().create_future()
            flight = Flight(item.view, ctx, task, now, self.clock.wall(), now + timeout, limit, hedged, attempt)
        else:
            task = asyncio.ensure_future(attempt)
            flight = Flight(item.view, ctx, task, now, self.clock.wall(), now + timeout, limit, hedged)
        self.inflight[task] = flight
        return flight

    # ------------------------------------------------------------------ hedging

    def _hedge_target(self) -> QueueItem | None:
        """The next untried healthy offer; with ``same_offer`` (score-driven orders) a second call to the
        primary's own offer competes with it on score, as in "The Tail at Scale"."""
        now_wall = self.clock.wall()
        head = self.queue[0] if self.queue and self.queue[0].pass_no == 1 and not self.queue[0].last_resort else None
        if head is not None and self._paused_until(head.view.provider) > now_wall:
            head = None  # a hedge is for now: never on a paused offer
        primary = next(iter(self.inflight.values()))
        if self.adaptive and self.hedging.same_offer:
            v = primary.view
            tries = self.tries.get(id(v.candidate), 0)
            if (
                tries < self.cfg.retry.max_attempts_per_offer
                and self._paused_until(v.provider) <= now_wall
                and (head is None or v.score * self.cfg.retry.retry_penalty <= head.view.score)
            ):
                return QueueItem(v, tries + 1, False)
        return head

    def _hedge_at(self) -> float | None:
        hc = self.hedging
        if not hc.enabled or self.hedge_blocked or self.hedges or len(self.inflight) != 1:
            return None
        if self._hedge_target() is None:
            return None
        primary = next(iter(self.inflight.values()))
        h = primary.view.health
        if h.successes >= self.cfg.health.min_samples and (q := h.quantile_s(hc.quantile)) is not None:
            delay = max(hc.floor_s, q)
        elif hc.cold_delay_s is not None:
            delay = hc.cold_delay_s
        else:
            return None
        return primary.started + delay

    async def _try_hedge(self) -> None:
        primary = next(iter(self.inflight.values()))
        item = self._hedge_target()
        assert item is not None
        probing = item.pass_no == 1 and item.view.health.breaker == "half_open"
        if probing and not await self.r.acquire_probe(self.model_id, item.view.provider):
            self.hedge_blocked = True
            return
        if not await self.r.acquire_budget("hedge", self.hedging.max_share, self.hedging.min_per_s):
            self.hedge_blocked = True  # over the hedge share: not started
            return
        if self.queue and self.queue[0] is item:
            self.queue.popleft()
        self.hedges += 1
        primary.hedged = True
        self._start(item, hedged=True)

    # ------------------------------------------------------------------ timers and outcomes

    async def _on_timer(self) -> None:
        now = self.clock.now()
        for flight in list(self.inflight.values()):
            if (now >= flight.timeout_at - _EPS or now >= self.deadline - _EPS) and flight.task.cancel():
                del self.inflight[flight.task]
                inline.close(flight.pending)
                with contextlib.suppress(BaseException):
                    await flight.task
                limit = "request_deadline" if now >= self.deadline - _EPS else flight.limit
                what = "the request's deadline" if limit == "request_deadline" else "its attempt timeout"
                msg = f"no answer within {what} ({flight.ctx.timeout_s:.2f} s)"
                err = Timeout(msg, provider=flight.view.provider, reason=limit)
                await self._failed(flight, "Timeout", err)
        hedge_at = self._hedge_at()
        if hedge_at is not None and now >= hedge_at - _EPS:
            await self._try_hedge()

    async def _finish_done(self, done: set[asyncio.Future[ImageResult]]) -> bool:
        """Record the finished attempts; True when the route is decided (a winner, or a non-retryable refusal)."""
        flights = sorted((self.inflight.pop(t) for t in done), key=lambda f: f.ctx.attempt_index)
        winner: tuple[Flight, ImageResult] | None = None
        fatal: ProviderError | None = None
        for flight in flights:
            outcome = await self._outcome(flight)
            if isinstance(outcome, ImageResult):
                winner = winner or (flight, outcome)
            elif isinstance(outcome, ProviderError) and not outcome.retryable:
                fatal = fatal or outcome
        if winner is None and fatal is None:
            return False
        for flight in list(self.inflight.values()):
            await self._settle_loser(flight)
        if winner is not None:
            self.out.result, self.out.candidate = winner[1], winner[0].view.candidate
            self.out.winner = self.records[winner[0].ctx.attempt_index]
        else:
            self.out.error = fatal
        return True

    async def _outcome(self, flight: Flight) -> ImageResult | ProviderError | None:
        """Record a finished attempt; return its result, its error, or None when it was cancelled."""
        latency = self.clock.now() - flight.started
        try:
            result = flight.task.result()
        except asyncio.CancelledError:  # it cancelled itself
            self._record(flight, "cancelled", latency)
            return None
        except ProviderError as exc:
            if exc.retryable or exc.provider_failed:  # e.g. a stream bound to it: failed, with no failover left
                await self._failed(flight, exc.kind, exc, latency)
            else:  # the provider works; the request was refused: no health penalty
                self._record(flight, exc.kind, latency, error=exc)
            return exc
        except Exception as exc:  # an adapter bug: fail over, but say what happened
            log.warning("attempt on %s raised %s", flight.view.provider, type(exc).__name__)
            err = ProviderError(f"unexpected {type(exc).__name__}", provider=flight.view.provider)
            await self._failed(flight, "InternalError", err, latency)
            return err
        cost = 0
        if self.cost_of is not None:
            try:
                cost = self.cost_of(flight.view.candidate, result)
            except Exception as exc:
                log.warning("cost of an attempt on %s failed: %s", flight.view.provider, type(exc).__name__)
        self._record(flight, "success", latency, result=result, cost=cost)
        await self.r.record(self.model_id, flight.view.provider, True, latency)
        return result

    async def _failed(self, flight: Flight, outcome: str, err: ProviderError, latency: float | None = None) -> None:
        latency = self.clock.now() - flight.started if latency is None else latency
        self._record(flight, outcome, latency, error=err)
        self.errors[id(flight.view.candidate)] = err
        await self.r.record(self.model_id, flight.view.provider, False, latency)
        if self.adaptive:  # fold this failure into the offer's score before choosing what to try next
            h = flight.view.health = dataclasses.replace(flight.view.health)  # the snapshot stays as read
            h.failures += 1
            h.failure_latency_ms += latency * 1000.0
            refresh(flight.view, self.cfg.health)
            score_views(self.views, self.policy.weights)
        if err.retry_after is not None and err.retry_after > 0:
            until = self.clock.wall() + min(err.retry_after, self.cfg.retry.max_retry_after_s)
            # One 429 among successes is noise (shared capacity, a burst): it only delays this request's retry.
            # Once failures repeat, the provider's retry-after pauses the offer for every request.
            earlier = max(0, self.tries.get(id(flight.view.candidate), 1) - 1)  # failed tries in this request
            in_a_row = flight.view.health.consecutive_failures + earlier + 1
            if in_a_row >= self.cfg.retry.pause_after_consecutive:
                await self.r.pause(self.model_id, flight.view.provider, until)
            else:
                self.local_pauses[flight.view.provider] = until

    def _paused_until(self, provider: str) -> float:
        return max(self.r.paused_until(self.model_id, provider), self.local_pauses.get(provider, 0.0))

    async def _settle_loser(self, flight: Flight) -> None:
        """A race was decided (or the request is over): cancel a running attempt; a finished one is recorded."""
        self.inflight.pop(flight.task, None)
        inline.close(flight.pending)
        if flight.task.cancel():
            with contextlib.suppress(BaseException):
                await flight.task
            # cancelled while the provider was working on it: it may bill the call anyway (no cancel API, or
            # a cancel that came too late), so it is kept at the offer's estimate and flagged
            self._record(flight, "cancelled", self.clock.now() - flight.started, possibly_billed=True)
        else:
            await self._outcome(flight)

    def _record(
        self,
        flight: Flight,
        outcome: str,
        latency_s: float,
        *,
        error: ProviderError | None = None,
        result: ImageResult | None = None,
        cost: int = 0,
        possibly_billed: bool = False,
    ) -> None:
        candidate = flight.view.candidate
        offer = candidate.offer
        if possibly_billed:
            cost = candidate.estimated_cost_micros
        self.records[flight.ctx.attempt_index] = Attempt(
            provider=offer.provider,
            provider_model_id=offer.provider_model_id,
            outcome=outcome,
            latency_ms=latency_s * 1000.0,
            ttfb_ms=result.ttfb_ms if result is not None else None,
            status=error.status if error is not None else None,
            error=error.message if error is not None else None,
            cost_micros=cost,
            hedged=flight.hedged,
            started_at=flight.started_wall,
            images=len(result.images) if result is not None else 0,
            bytes=sum(i.nbytes for i in result.images) if result is not None else 0,
            possibly_billed=possibly_billed,
            limit_hit=error.reason if outcome == "Timeout" and error is not None and error.reason in LIMITS else None,
        )
        out = self.out.attempts
        if flight.ctx.attempt_index == len(out):  # the usual order (always without hedging)
            out.append(self.records[flight.ctx.attempt_index])
        else:
            out[:] = self.attempts

    @property
    def attempts(self) -> list[Attempt]:
        return [self.records[i] for i in sorted(self.records)]

    def _exhausted(self) -> GatewayError:
        return exhausted_error(self.model_id, self.attempts, self.errors.values(), self.stop_reason, self.cfg)
