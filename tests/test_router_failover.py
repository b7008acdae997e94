"""Failover, non-retryable errors, exhaustion, rate limits and pauses, retries and the retry budget.

Parametrized over the memory and the Redis state; attempts advance the fake clock synchronously so the
Redis round trips cannot reorder anything.
"""

from __future__ import annotations

import pytest

from imagegate.core.errors import (
    AllProvidersExhausted,
    AuthFailed,
    BadResponse,
    ContentPolicy,
    InvalidRequest,
    ProviderInvalidRequest,
    RateLimited,
    RateLimitedError,
    Timeout,
    Unavailable,
)
from imagegate.core.types import ProviderPreferences
from imagegate.streams import StreamInterrupted
from imagegate.testing.clock import FakeClock
from tests.test_router_support import Script, cands, clock, config, cost_of, fail, make_router, names, ok, state

__all__ = ["clock", "state"]  # fixtures

FLEET = dict(gemini=0.134, vertex=0.134, fal=0.15)


def deadline(clock: FakeClock, seconds: float = 300.0) -> float:
    return clock.now() + seconds


@pytest.mark.parametrize("error", [RateLimited, Unavailable, Timeout, BadResponse, AuthFailed])
async def test_fails_over_on_each_retryable_error(state, clock, error) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True).plan("gemini", fail(error, 30.0, status=503))
    routed = await r.run("m", cands(**FLEET), script, deadline=deadline(clock), cost_of=cost_of)
    assert routed.candidate.provider == "vertex"
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", error.__name__), ("vertex", "success")]
    first, second = routed.attempts
    assert first.latency_ms == pytest.approx(30_000) and first.status == 503 and first.cost_micros == 0
    assert second.cost_micros == 134_000 and second.images == 1
    assert [ctx.attempt_index for _, ctx in script.calls] == [0, 1]


@pytest.mark.parametrize("error", [ContentPolicy, ProviderInvalidRequest])
async def test_no_failover_on_non_retryable_errors(state, clock, error) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True).plan("gemini", fail(error, status=400))
    with pytest.raises(error):
        await r.run("m", cands(**FLEET), script, deadline=deadline(clock))
    assert script.providers_called == ["gemini"]
    routed = await r.route("m", cands(**FLEET), script.plan("gemini", fail(error, status=400)),
                           deadline=deadline(clock))  # fmt: skip
    assert isinstance(routed.error, error) and routed.result is None and routed.cost_micros == 0
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", error.__name__)]
    snap = await r.snapshot("m", ["gemini"])
    assert snap.get("gemini").failures == 0  # a refusal says nothing bad about the provider's health


class BoundStreamFailed(StreamInterrupted):
    """``StreamInterrupted`` as the relay raises it when the provider a stream is bound to fails."""

    def __init__(self, message: str, **kw: object) -> None:
        super().__init__(message, provider_failed=True, **kw)  # type: ignore[arg-type]


async def test_a_final_provider_failure_stops_the_route_and_still_counts_against_its_health(state, clock) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True).plan("gemini", fail(BoundStreamFailed, 2.0, status=502))
    routed = await r.route("m", cands(**FLEET), script, deadline=deadline(clock))
    assert isinstance(routed.error, BoundStreamFailed) and script.providers_called == ["gemini"]
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", "BoundStreamFailed")]
    snap = await r.snapshot("m", ["gemini"])
    assert (snap.get("gemini").failures, snap.get("gemini").consecutive_failures) == (1, 1)


async def test_all_fail_raises_exhausted_listing_every_attempt(state, clock) -> None:
    r = make_router(state, clock, config(retry={"max_attempts_per_offer": 1}))
    script = Script(clock, sync_time=True)
    script.plan("gemini", fail(Unavailable, status=503)).plan("vertex", fail(Timeout)).plan("fal", fail(BadResponse))
    with pytest.raises(AllProvidersExhausted) as exc:
        await r.run("m", cands(**FLEET), script, deadline=deadline(clock))
    err = exc.value
    assert err.status == 502 and err.code == "ALL_PROVIDERS_EXHAUSTED"
    assert [d["provider"] for d in err.details["attempts"]] == ["gemini", "vertex", "fal"]
    assert [d["outcome"] for d in err.details["attempts"]] == ["Unavailable", "Timeout", "BadResponse"]
    assert err.details["attempts"][0]["status"] == 503
    for p in ("gemini Unavailable (503)", "vertex Timeout", "fal BadResponse"):
        assert p in err.message
    routed = await r.route("m", cands(**FLEET), script.plan("gemini", fail(Unavailable)).plan("vertex", fail(Timeout))
                           .plan("fal", fail(BadResponse)), deadline=deadline(clock))  # fmt: skip
    assert isinstance(routed.error, AllProvidersExhausted) and len(routed.attempts) == 3


async def test_retries_the_same_offer_with_backoff_when_forced(state, clock) -> None:
    r = make_router(state, clock, config(retry={"backoff_base_s": 2.0, "max_attempts_per_offer": 3}))
    script = Script(clock, sync_time=True).plan("vertex", fail(Unavailable), fail(Unavailable), ok())
    start = clock.now()
    routed = await r.run("m", cands(**FLEET), script, forced_provider="vertex", deadline=deadline(clock))
    assert script.providers_called == ["vertex"] * 3  # never another provider
    assert [ctx.retry for _, ctx in script.calls] == [False, True, True]
    assert routed.candidate.provider == "vertex"
    waited = clock.now() - start - 3.0  # minus three 1-s attempts
    assert 0.0 <= waited <= 2.0 + 4.0  # full jitter: U(0, 2) then U(0, 4)


async def test_explicit_order_tries_every_offer_once_before_retrying(state, clock) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True)
    script.plan("gemini", fail(Unavailable), ok()).plan("vertex", fail(Unavailable)).plan("fal", fail(AuthFailed))
    order = ProviderPreferences(order=["gemini", "vertex", "fal"])
    routed = await r.run("m", cands(**FLEET), script, prefs=order, deadline=deadline(clock))
    assert script.providers_called == ["gemini", "vertex", "fal", "gemini"]  # AuthFailed fal is not retried
    assert routed.candidate.provider == "gemini"


async def test_auto_retries_a_reliable_offer_before_trying_a_worse_one(state, clock) -> None:
    """The ratio rule: after one Gemini failure, Gemini (p ~ 0.93) still beats a first try on Vertex (p ~ 0.67)."""
    r = make_router(state, clock)
    for _ in range(30):
        await r.record("m", "gemini", True, 20.0)
        await r.record("m", "vertex", True, 26.0)
    for _ in range(15):
        await r.record("m", "vertex", False, 26.0)
    script = Script(clock, sync_time=True).plan("gemini", fail(Unavailable, 20.0), ok(20.0))
    routed = await r.run("m", cands(**FLEET), script, deadline=deadline(clock))
    assert script.providers_called == ["gemini", "gemini"] and routed.candidate.provider == "gemini"
    assert [ctx.retry for _, ctx in script.calls] == [False, True]
    # a cold offer that just failed is not retried before an untried one of the same standing
    script = Script(clock, sync_time=True).plan("b", fail(Unavailable, 30.0)).plan("a", ok())
    await r.run("cold", cands(b=0.1, a=0.1), script, deadline=deadline(clock))
    assert script.providers_called == ["b", "a"]


@pytest.mark.parametrize(("retry_after", "expected"), [(5.0, ["gemini", "gemini"]), (60.0, ["gemini", "vertex"])])
async def test_auto_weighs_a_retry_after_wait_against_failing_over(state, clock, retry_after, expected) -> None:
    """After a 429, waiting out a short Retry-After for the best offer beats a slower, less reliable one;
    a long one does not. The wait is spent before the retry starts."""
    r = make_router(state, clock)
    for i in range(45):
        await r.record("m", "gemini", True, 20.0)
        await r.record("m", "vertex", i % 3 != 0, 26.0)  # p ~ 0.67, its breaker closed
    starts: list[float] = []
    script = Script(clock, sync_time=True).plan("gemini", fail(RateLimited, 2.0, retry_after=retry_after), ok(20.0))
    script.plan("vertex", ok(26.0))

    async def attempt(c, ctx):  # type: ignore[no-untyped-def]
        starts.append(clock.now())
        return await script(c, ctx)

    cs = cands(gemini=0.134, vertex=0.134)
    routed = await r.run("m", cs, attempt, deadline=deadline(clock), cost_of=cost_of)
    assert script.providers_called == expected and routed.candidate.provider == expected[-1]
    if expected[-1] == "gemini":
        assert starts[1] - starts[0] >= 2.0 + retry_after  # the 429 took 2 s, then its Retry-After
    assert not (await r.snapshot("m", ["gemini"])).get("gemini").paused(clock.wall())  # a lone 429


@pytest.mark.parametrize(("pause_s", "expected"), [(5.0, "gemini"), (60.0, "vertex")])
async def test_auto_waits_out_a_short_pause_of_the_best_offer(state, clock, pause_s, expected) -> None:
    """A fresh request while Gemini is paused for everyone: a 5 s wait for it beats Vertex, a minute does not."""
    r = make_router(state, clock)
    for i in range(45):
        await r.record("m", "gemini", True, 20.0)
        await r.record("m", "vertex", i % 3 != 0, 26.0)
    await r.pause("m", "gemini", clock.wall() + pause_s)
    script = Script(clock, sync_time=True).plan("gemini", ok(20.0)).plan("vertex", ok(26.0))
    start = clock.now()
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=deadline(clock))
    assert script.providers_called == [expected]
    assert routed.attempts[0].latency_ms == pytest.approx({"gemini": 20_000, "vertex": 26_000}[expected])
    if expected == "gemini":
        assert clock.now() - start == pytest.approx(pause_s + 20.0)  # waited for the pause, then 20 s


async def test_only_rate_limits_give_429_with_retry_after(state, clock) -> None:
    r = make_router(state, clock, config(retry={"max_attempts_per_offer": 1}))
    script = Script(clock, sync_time=True)
    script.plan("gemini", fail(RateLimited, retry_after=7.2)).plan("vertex", fail(RateLimited, retry_after=30))
    with pytest.raises(RateLimitedError) as exc:
        await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=deadline(clock))
    assert exc.value.status == 429 and exc.value.headers == {"Retry-After": "8"}
    assert [d["outcome"] for d in exc.value.details["attempts"]] == ["RateLimited", "RateLimited"]


async def test_retry_after_pauses_the_offer_until_then(state, clock) -> None:
    r = make_router(state, clock, config(retry={"pause_after_consecutive": 1}))
    cs = cands(gemini=0.134, vertex=0.134)
    gemini_first = ProviderPreferences(order=["gemini"])
    script = Script(clock, sync_time=True).plan("gemini", fail(RateLimited, retry_after=60))
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    script.calls.clear()
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    assert script.providers_called == ["vertex"]  # gemini is paused: last resort only, even when preferred
    snap = await r.snapshot("m", ["gemini"])
    assert snap.get("gemini").paused(clock.wall())
    clock.advance(60)
    script.calls.clear()
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    assert script.providers_called == ["gemini"]


async def test_a_lone_429_does_not_pause_the_offer_but_repeated_ones_do(state, clock) -> None:
    r = make_router(state, clock)  # default: pause after 2 failures in a row
    cs = cands(gemini=0.134, vertex=0.134)
    gemini_first = ProviderPreferences(order=["gemini"])
    script = Script(clock, sync_time=True).plan("gemini", fail(RateLimited, retry_after=60))
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    assert not (await r.snapshot("m", ["gemini"])).get("gemini").paused(clock.wall())
    script.calls.clear()
    script.plan("gemini", fail(RateLimited, retry_after=60))
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    assert script.providers_called[0] == "gemini"  # not paused: still tried first
    assert (await r.snapshot("m", ["gemini"])).get("gemini").paused(clock.wall())  # second 429 in a row
    script.calls.clear()
    await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
    assert script.providers_called == ["vertex"]


async def test_a_paused_offer_is_still_the_last_resort(state, clock) -> None:
    r = make_router(state, clock, config(retry={"max_attempts_per_offer": 1}))
    cs = cands(gemini=0.134, vertex=0.134)
    await r.pause("m", "gemini", clock.wall() + 600)
    script = Script(clock, sync_time=True).plan("vertex", fail(Unavailable))
    routed = await r.run("m", cs, script, deadline=deadline(clock))
    assert script.providers_called == ["vertex", "gemini"] and routed.candidate.provider == "gemini"


async def test_retry_budget_caps_retries_and_failovers(state, clock) -> None:
    # 20 % of requests plus 0.1/s over a 10 s window: 1 token to start with
    cfg = config(
        retry_budget={"ratio": 0.2, "min_per_s": 0.1, "window_s": 10, "bucket_s": 10}, breaker={"enabled": False}
    )
    r = make_router(state, clock, cfg)
    gemini_first = ProviderPreferences(order=["gemini"])
    script = Script(clock, sync_time=False)
    script.default = {"gemini": fail(Unavailable, 0.0), "vertex": ok(0.0)}
    cs = cands(gemini=0.134, vertex=0.134)
    outcomes = []
    for _ in range(10):
        try:
            await r.run("m", cs, script, prefs=gemini_first, deadline=deadline(clock))
            outcomes.append("ok")
        except AllProvidersExhausted as exc:
            assert "retry budget exhausted" in exc.message
            outcomes.append("budget")
    # the k-th request's failover is allowed while used + 1 <= 0.2 k + 1: at k = 1, 5, 10
    assert outcomes == ["ok", "budget", "budget", "budget", "ok", "budget", "budget", "budget", "budget", "ok"]


async def test_max_attempts_caps_a_request(state, clock) -> None:
    r = make_router(state, clock, config(retry={"max_attempts": 2}, retry_budget={"min_per_s": 100}))
    script = Script(clock, sync_time=True)
    script.default = {p: fail(Unavailable) for p in FLEET}
    routed = await r.route("m", cands(**FLEET), script, deadline=deadline(clock))
    assert isinstance(routed.error, AllProvidersExhausted)
    assert len(routed.attempts) == 2 and "max_attempts" in routed.error.message


async def test_preferences_apply_when_running(state, clock) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True).plan("fal", default=fail(Unavailable))
    with pytest.raises(AllProvidersExhausted):
        await r.run("m", cands(**FLEET), script, prefs=ProviderPreferences(order=["fal"], allow_fallbacks=False,),
                    deadline=deadline(clock))  # fmt: skip
    assert script.providers_called == ["fal", "fal"]  # the first candidate only (and its one retry)
    with pytest.raises(InvalidRequest):
        await r.run("m", cands(**FLEET), script, prefs=ProviderPreferences(only=["x"]), deadline=deadline(clock))


async def test_health_is_recorded_per_model_and_provider(state, clock) -> None:
    r = make_router(state, clock)
    script = Script(clock, sync_time=True).plan("gemini", fail(Unavailable, 3.0), ok(20.0))
    gemini_first = ProviderPreferences(order=["gemini"])
    for _ in range(2):
        await r.run("m", cands(gemini=0.134, vertex=0.134), script, prefs=gemini_first, deadline=deadline(clock))
    snap = await r.snapshot("m", ["gemini", "vertex"])
    g, v = snap.get("gemini"), snap.get("vertex")
    assert (g.successes, g.failures, v.successes, v.failures) == (1, 1, 1, 0)
    assert g.mean_success_s == pytest.approx(20.0) and g.mean_failure_s == pytest.approx(3.0)
    assert 15.0 < g.quantile_s(0.5) < 26.0  # histogram bins are ~30 % wide
    other = await r.snapshot("other-model", ["gemini"])
    assert other.get("gemini").total == 0
    assert names(r.order("m", cands(vertex=0.134, gemini=0.134), None, None))  # order() uses the last snapshot
