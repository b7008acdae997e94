"""The router's hot-path shortcuts behave as the plain paths do: window tallies (memory state), remembered field
names (Redis rows), inline attempts (no hedging, on any clock), the per-model policy kept by the router."""

from __future__ import annotations

import asyncio
import random

import pytest

from imagegate.core.errors import Unavailable
from imagegate.core.types import GeneratedImage, ImageResult
from imagegate.router import AttemptContext, Candidate, MemoryRouterState, Router, RouterConfig, health, state_params
from imagegate.router.inline import run_inline
from imagegate.testing.clock import FakeClock
from tests.test_router_support import cands, config

RESULT = ImageResult(images=[GeneratedImage(mime_type="image/png", data=b"png")])


def fields_of(h: health.OfferHealth) -> tuple:
    return (h.successes, h.failures, h.success_latency_ms, h.failure_latency_ms, h.histogram, h.breaker,
            h.opened_at, h.consecutive_failures, h.paused_until)  # fmt: skip


# --------------------------------------------------------------------------- window tallies and field names


async def test_memory_snapshots_equal_a_fresh_parse_of_the_fields() -> None:
    """After any mix of updates (time moving across buckets, a little backwards too), a snapshot from the kept
    tallies is exactly (latency sums bit for bit) what parsing the fields gives."""
    params = state_params(config(health={"window_s": 60, "bucket_s": 10}, breaker={"consecutive_failures": 4}))
    state = MemoryRouterState()
    rng = random.Random(9)
    now = 1_700_000_000.0
    held: list[tuple[health.OfferHealth, tuple]] = []
    for step in range(2000):
        now += rng.choice([0.0, 0.01, 0.3, 2.0, 7.0, 25.0, -0.5])
        p = rng.choice(["gemini", "vertex", "fal"])
        op = rng.random()
        if op < 0.6:
            await state.record("m", p, rng.random() < 0.8, rng.uniform(0.01, 90.0), now, params)
        elif op < 0.65:
            await state.pause("m", p, now + 15, params)
        elif op < 0.7:
            await state.acquire_probe("m", p, now, params)
        snap = await state.snapshot("m", ["gemini", "vertex", "fal", "gemini"], now, params, count_request=True)
        for q in ("gemini", "vertex", "fal"):
            fresh = health.summarise(state._offers.get(("m", q), {}), now, params)
            assert fields_of(snap.get(q)) == fields_of(fresh), f"step {step}, {q}"
        if step % 100 == 0:
            h = snap.get(p)
            held.append((h, fields_of(h)))
    for h, seen in held:  # later updates never change a snapshot already handed out (histograms copy on write)
        assert fields_of(h) == seen


def test_remembered_field_names_give_the_same_summary() -> None:
    params = health.StateParams(bucket_s=10, buckets=6)
    f: dict[str, float] = {}
    rng = random.Random(2)
    now = 1_700_000_000.0
    names: dict[str, health.FieldName] = {}
    for _ in range(500):
        now += rng.uniform(0, 3)
        health.record_outcome(f, now, rng.random() < 0.7, rng.uniform(10, 60_000), params)
        row = {k: str(v) for k, v in f.items()}  # as a Redis HGETALL gives them
        assert fields_of(health.summarise(row, now, params, names)) == fields_of(health.summarise(row, now, params))
    assert names["cf"] is None and all(n is None or n[0] <= health.current_bucket(now, params) for n in names.values())
    assert health.parse_name("123:h7") == (123, "h", 7) and health.parse_name("-4:ls") == (-4, "ls", 0)
    assert health.parse_name("x:s") is None and health.parse_name("12:zz") == (12, "", 0)


# --------------------------------------------------------------------------- inline attempts


def system_router(**sections: object) -> Router:
    return Router(MemoryRouterState(), config(**sections), rng=random.Random(1))


async def test_without_hedging_an_attempt_runs_in_the_request_task() -> None:
    r = system_router()
    tasks: list[asyncio.Task | None] = []

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        tasks.append(asyncio.current_task())
        return RESULT

    routed = await r.run("m", cands(gemini=0.134), attempt, deadline=r.clock.now() + 60, cost_of=lambda c, res: 7)
    assert tasks == [asyncio.current_task()]
    assert routed.result is RESULT and [(a.outcome, a.cost_micros) for a in routed.attempts] == [("success", 7)]

    hedged = system_router(hedging={"enabled": True, "cold_delay_s": 30})
    tasks.clear()
    await hedged.run("m", cands(gemini=0.134), attempt, deadline=hedged.clock.now() + 60)
    assert tasks and tasks[0] is not asyncio.current_task()  # hedging: a task per attempt, as before


async def test_an_inline_attempt_past_its_time_limit_is_cancelled_and_failed_over() -> None:
    r = system_router(attempt_timeout={"cold_s": 0.02}, retry={"max_attempts_per_offer": 1})
    seen: list[str] = []

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        if c.provider == "gemini":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise
        return RESULT

    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), attempt, deadline=r.clock.now() + 60)
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", "Timeout"), ("vertex", "success")]
    assert seen == ["cancelled"] and routed.attempts[0].latency_ms >= 20
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_an_attempt_that_swallows_its_cancellation_still_timed_out() -> None:
    r = system_router(attempt_timeout={"cold_s": 0.02}, retry={"max_attempts_per_offer": 1})

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        if c.provider == "gemini":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                return RESULT  # too late: the time was up
        return RESULT

    routed = await r.run("m", cands(gemini=0.134, vertex=0.134), attempt, deadline=r.clock.now() + 60)
    assert [(a.provider, a.outcome) for a in routed.attempts] == [("gemini", "Timeout"), ("vertex", "success")]


async def test_inline_outcomes_are_those_of_a_task() -> None:
    """Its own CancelledError: a cancelled attempt; its own TimeoutError: an adapter bug; a ProviderError: failed."""
    r = system_router(retry={"max_attempts_per_offer": 1})

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        if c.provider == "gemini":
            raise asyncio.CancelledError
        if c.provider == "vertex":
            raise TimeoutError
        if c.provider == "fal":
            raise Unavailable("fal said no", provider="fal")
        return RESULT

    routed = await r.run("m", cands(gemini=0.1, vertex=0.1, fal=0.1, replicate=0.1), attempt,
                         deadline=r.clock.now() + 60)  # fmt: skip
    assert [(a.provider, a.outcome) for a in routed.attempts] == [
        ("gemini", "cancelled"), ("vertex", "InternalError"), ("fal", "Unavailable"), ("replicate", "success"),
    ]  # fmt: skip


async def test_cancelling_the_request_cancels_the_inline_attempt() -> None:
    r = system_router()
    started, seen = asyncio.Event(), []

    async def attempt(c: Candidate, ctx: AttemptContext) -> ImageResult:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append(c.provider)
            raise
        return RESULT

    task = asyncio.create_task(r.run("m", cands(gemini=0.134, vertex=0.134), attempt, deadline=r.clock.now() + 60))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == ["gemini"]  # cancelled, and no failover to vertex


async def test_run_inline_settles_the_future_like_a_task() -> None:
    loop = asyncio.get_running_loop()

    async def value() -> int:
        return 3

    async def hang() -> int:
        await asyncio.Event().wait()
        return 0

    fut: asyncio.Future[int] = loop.create_future()
    await run_inline(value(), fut, asyncio.timeout(10))
    assert fut.result() == 3
    fut = loop.create_future()
    await run_inline(hang(), fut, asyncio.timeout(0.01))
    assert not fut.done()  # out of time: left to the loop's timer path


async def test_run_inline_on_the_fake_clock_is_the_same_code() -> None:
    """No clock-type switch: a FakeClock's ``timeout`` expires ``run_inline`` as ``asyncio.timeout`` does."""
    clock = FakeClock()
    loop = asyncio.get_running_loop()

    async def slow() -> int:
        await clock.sleep(100)
        return 1

    fut: asyncio.Future[int] = loop.create_future()
    start = clock.now()
    await run_inline(slow(), fut, clock.timeout(30))
    assert not fut.done() and clock.now() - start == pytest.approx(30)
    fut = loop.create_future()
    await run_inline(slow(), fut, clock.timeout(300))
    assert fut.result() == 1 and clock.now() - start == pytest.approx(130)
    await clock.aclose()


# --------------------------------------------------------------------------- per-model policy


def test_the_router_resolves_a_models_policy_once_per_config() -> None:
    r = Router(MemoryRouterState(), RouterConfig.from_dict({"models": {"m": {"hedging": {"enabled": True}}}}))
    assert r.policy_for("m") is r.policy_for("m") and r.policy_for("m").hedging.enabled
    assert r.policy_for("other").routing == r.config.for_model("other") and not r.policy_for("other").hedging.enabled
    r.config = RouterConfig()  # a new config: policies are resolved again
    assert not r.policy_for("m").hedging.enabled
