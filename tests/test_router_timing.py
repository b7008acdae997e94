"""Per-attempt timeouts, the request deadline, hedging, cancellation, and a simulated seed fleet.

These run on the memory state with an autojumping ``FakeClock``: attempts really sleep (on the fake clock),
so concurrency is real and time costs nothing.
"""

from __future__ import annotations

import asyncio
import math
import random

import pytest

from imagegate.catalog.schema import ExpectedPerformance
from imagegate.core.errors import AllProvidersExhausted, Unavailable
from imagegate.core.types import GeneratedImage, ImageResult, ProviderPreferences
from imagegate.router import AttemptContext, Candidate, MemoryRouterState, Router
from imagegate.testing.clock import FakeClock
from tests.test_router_support import Script, Step, cands, clock, config, cost_of, fail, make_router, ok

__all__ = ["clock"]  # fixture

HEDGE_ALWAYS = {"enabled": True, "cold_delay_s": 5.0, "max_share": 1.0, "same_offer": False}


async def warm(r: Router, provider: str, n: int = 20, latency: float = 10.0) -> None:
    for _ in range(n):
        await r.record("m", provider, True, latency)
    await r.snapshot("m", [provider])


async def test_a_hung_attempt_is_cut_at_k_times_its_p95(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(attempt_timeout={"multiplier": 2.0, "floor_s": 5}))
    await warm(r, "gemini", latency=10.0)
    p95 = (await r.snapshot("m", ["gemini"])).get("gemini").quantile_s(0.95)
    script = Script(clock).plan("gemini", Step(hang=True))
    start = clock.now()
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=start + 300)
    limit = script.calls[0][1].timeout_s
    assert limit == pytest.approx(2 * p95) and 15 < limit < 30
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", "Timeout"), ("gemini", "success")]
    # one hang in 21 calls leaves Gemini the best bet: retried (ratio rule) rather than failed over
    assert routed.attempts[0].latency_ms == pytest.approx(limit * 1000)
    assert script.cancelled == ["gemini"]
    assert limit + 1.0 <= clock.now() - start <= limit + 1.5  # + the retry's backoff, U(0, 0.5 s)


async def test_cold_offers_get_the_cold_limit_or_the_remaining_time(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(attempt_timeout={"cold_s": 7}))
    script = Script(clock).plan("gemini", ok(100.0))
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 60)
    assert script.calls[0][1].timeout_s == 7 and routed.attempts[0].outcome == "Timeout"
    r2 = make_router(MemoryRouterState(), clock)
    script2 = Script(clock)
    await r2.run("m", cands(gemini=0.134), script2, deadline=clock.now() + 60)
    assert script2.calls[0][1].timeout_s == pytest.approx(60)


async def test_the_request_deadline_ends_everything(clock) -> None:
    r = make_router(MemoryRouterState(), clock)
    script = Script(clock).plan("gemini", ok(500.0)).plan("vertex", ok(500.0))
    start = clock.now()
    routed = await r.route("m", cands(gemini=0.134, vertex=0.134), script, deadline=start + 50)
    assert isinstance(routed.error, AllProvidersExhausted)
    assert clock.now() - start == pytest.approx(50)
    # a quarter of the time is kept back for failover: gemini gets 37.5 s, vertex the rest
    assert [(a.provider, a.outcome, a.limit_hit) for a in routed.attempts] == [
        ("gemini", "Timeout", "attempt_timeout"),
        ("vertex", "Timeout", "request_deadline"),
    ]
    assert [round(a.latency_ms) for a in routed.attempts] == [37_500, 12_500]
    assert "deadline" in routed.error.message


async def test_hedge_starts_at_the_quantile_and_the_first_success_wins(clock) -> None:
    hedging = {"enabled": True, "quantile": 0.9, "max_share": 1, "same_offer": False}
    r = make_router(MemoryRouterState(), clock, config(hedging=hedging))
    await warm(r, "gemini", latency=10.0)
    q90 = (await r.snapshot("m", ["gemini"])).get("gemini").quantile_s(0.9)
    script = Script(clock).plan("gemini", ok(100.0)).plan("vertex", ok(5.0))
    start = clock.now()
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=start + 300, cost_of=cost_of)
    assert routed.candidate.provider == "vertex"
    assert clock.now() - start == pytest.approx(q90 + 5.0)
    g, v = routed.attempts
    # the loser may still be billed: kept at its estimate, flagged
    assert (g.provider, g.outcome, g.hedged, g.cost_micros, g.possibly_billed) == (
        "gemini",
        "cancelled",
        True,
        134_000,
        True,
    )
    assert (v.provider, v.outcome, v.hedged, v.cost_micros) == ("vertex", "success", True, 134_000)
    assert v.started_at - g.started_at == pytest.approx(q90)
    assert [ctx.hedged for _, ctx in script.calls] == [False, True]
    assert script.cancelled == ["gemini"]


async def test_the_primary_can_still_win_and_the_hedge_is_cancelled(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(hedging=HEDGE_ALWAYS))
    script = Script(clock).plan("gemini", ok(8.0)).plan("vertex", ok(20.0))
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
    assert routed.candidate.provider == "gemini"
    assert [(a.provider, a.outcome, a.hedged) for a in routed.attempts] == [
        ("gemini", "success", True), ("vertex", "cancelled", True),
    ]  # fmt: skip
    assert script.cancelled == ["vertex"]


async def test_a_failed_hedge_leaves_the_primary_running(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(hedging=HEDGE_ALWAYS))
    script = Script(clock).plan("gemini", ok(9.0)).plan("vertex", fail(Unavailable, 1.0))
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134, fal=0.15), script, deadline=clock.now() + 300)
    assert routed.candidate.provider == "gemini"
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", "success"), ("vertex", "Unavailable")]


async def test_the_hedge_may_be_a_second_call_to_the_same_offer(clock) -> None:
    """Under ``auto`` with ``same_offer`` the hedge goes where the score says: here Gemini again, not cold Vertex."""
    r = make_router(MemoryRouterState(), clock, config(hedging={"enabled": True, "quantile": 0.5, "max_share": 1}))
    await warm(r, "gemini", latency=10.0)
    script = Script(clock).plan("gemini", ok(100.0), ok(10.0))
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
    assert [(p, ctx.hedged, ctx.retry) for p, ctx in script.calls] == [("gemini", False, False), ("gemini", True, True)]
    assert [(a.provider, a.outcome, a.hedged) for a in routed.attempts] == [
        ("gemini", "cancelled", True), ("gemini", "success", True),
    ]  # fmt: skip


async def test_no_hedge_on_a_paused_offer(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(hedging=HEDGE_ALWAYS))
    await r.pause("m", "vertex", clock.wall() + 600)
    script = Script(clock).plan("gemini", ok(60.0))
    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
    assert [p for p, _ in script.calls] == ["gemini"] and routed.candidate.provider == "gemini"


async def test_no_hedge_when_cold_or_disabled(clock) -> None:
    for hedging in ({"enabled": True}, {"enabled": False, "cold_delay_s": 1.0}):
        r = make_router(MemoryRouterState(), clock, config(hedging=hedging))
        script = Script(clock).plan("gemini", ok(60.0))
        await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
        assert [p for p, _ in script.calls] == ["gemini"]


async def test_per_model_hedging_overrides_the_global_setting(clock) -> None:
    cfg = config(models={"m": {"policy": "auto", "hedging": HEDGE_ALWAYS}})
    r = make_router(MemoryRouterState(), clock, cfg)
    script = Script(clock).plan("gemini", ok(60.0))
    await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
    assert [p for p, _ in script.calls] == ["gemini", "vertex"]


async def test_hedge_share_cap_is_respected(clock) -> None:
    cfg = config(
        hedging={**HEDGE_ALWAYS, "max_share": 0.1},
        retry_budget={"window_s": 100_000, "bucket_s": 100_000},
        health={"min_samples": 1000},
    )
    r = make_router(MemoryRouterState(), clock, cfg)
    script = Script(clock)
    script.default = {"gemini": ok(30.0), "vertex": ok(30.0)}
    hedged = []
    for _ in range(30):
        routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
        hedged.append(any(a.hedged for a in routed.attempts))
    # hedges + 1 <= 10 % of requests so far: the 10th, 20th and 30th request may hedge
    assert [i + 1 for i, h in enumerate(hedged) if h] == [10, 20, 30]


async def test_cancelling_the_request_cancels_attempts_in_flight(clock) -> None:
    r = make_router(MemoryRouterState(), clock, config(hedging=HEDGE_ALWAYS))
    script = Script(clock).plan("gemini", ok(100.0)).plan("vertex", ok(100.0))
    task = asyncio.ensure_future(r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300))
    while len(script.calls) < 2:  # wait until the hedge is running too
        await clock.sleep(1.0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(script.cancelled) == ["gemini", "vertex"]


# ------------------------------------------------------------------ a simulated seed fleet


def lognormal(rng: random.Random, p50: float, p95: float) -> float:
    sigma = math.log(p95 / p50) / 1.6448536269514722
    return rng.lognormvariate(math.log(p50), sigma)


async def test_seed_fleet_reaches_three_nines_at_the_cheapest_price() -> None:
    """The seed's profiles (failures also take a drawn latency): >= 99.9 % success, cost close to Gemini's."""
    profiles = {"gemini": (19.6, 35.6, 0.930), "vertex": (26.0, 102.9, 0.674), "fal": (43.0, 83.4, 0.362)}
    clock = FakeClock()
    rng = random.Random(42)
    r = Router(MemoryRouterState(), config(), clock, random.Random(1))
    cs = cands(gemini=0.134, vertex=0.134, fal=0.15)

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        p50, p95, success = profiles[c.provider]
        await clock.sleep(lognormal(rng, p50, p95))
        if rng.random() >= success:
            raise Unavailable("overloaded", provider=c.provider, status=503)
        return ImageResult(images=[GeneratedImage(mime_type="image/png", data=b"x")])

    results: list[tuple[bool, int, int]] = []

    async def worker() -> None:
        for _ in range(60):
            routed = await r.route("m", cs, attempt, deadline=clock.now() + 300, cost_of=cost_of)
            if routed.error is None:
                results.append((True, sum(a.cost_micros for a in routed.attempts), len(routed.attempts)))
            else:
                assert isinstance(routed.error, AllProvidersExhausted)
                results.append((False, 0, len(routed.attempts)))

    await asyncio.gather(*(worker() for _ in range(20)))
    await clock.aclose()
    wins = [x for x in results if x[0]]
    assert len(results) == 1200
    assert len(wins) / len(results) >= 0.999
    cost_per_success = sum(c for _, c, _ in wins) / len(wins)
    assert cost_per_success <= 1.02 * 134_000
    attempts_per_request = sum(n for _, _, n in results) / len(results)
    print(f"success {len(wins) / len(results):.4%} cost {cost_per_success:.0f} attempts {attempts_per_request}")
    assert attempts_per_request < 1.2  # few wasted attempts


async def test_a_cold_offer_is_cut_at_its_catalog_prior_and_the_next_one_tried(clock) -> None:
    """No successes yet: the limit comes from the catalog's expected p95 x cold_multiplier (scaled like the
    latency prior), not the whole deadline (issue 9)."""
    r = make_router(MemoryRouterState(), clock, config(health={"expected_latency_scale": 0.5}))
    cs = cands(gemini=0.134, vertex=0.134)
    expected = ExpectedPerformance(success_rate=0.93, p50_ms=19_586, p95_ms=35_647, source="seed")
    cs[0].offer = cs[0].offer.model_copy(update={"expected": expected})
    script = Script(clock).plan("gemini", Step(hang=True)).plan("vertex", ok(3.0))
    start = clock.now()
    routed = await r.run("m", cs, script, prefs=ProviderPreferences(order=["gemini", "vertex"]), deadline=start + 300)
    assert routed.candidate.provider == "vertex"
    g, v = routed.attempts
    assert (g.outcome, g.limit_hit) == ("Timeout", "attempt_timeout")
    assert script.calls[0][1].timeout_s == pytest.approx(max(10.0, 2 * 35.647 * 0.5))
    assert clock.now() - start == pytest.approx(2 * 35.647 * 0.5 + 3.0)
