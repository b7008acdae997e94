"""RedisRouterState against the real Redis at 127.0.0.1:6379 (a unique key prefix per test, cleaned up)."""

from __future__ import annotations

import random

import pytest

from imagegate.core.errors import Unavailable
from imagegate.core.types import ProviderPreferences
from imagegate.router import MemoryRouterState, RedisRouterState, state_params
from tests.test_router_support import Script, cands, clock, config, fail, make_router, redis_state

__all__ = ["clock", "redis_state"]  # fixtures

BREAKER = {"consecutive_failures": 3, "cooldown_s": 30}


async def test_two_routers_share_breakers_and_health(redis_state, clock) -> None:
    other = RedisRouterState(redis_state.client, redis_state.prefix)  # another worker, same Redis and prefix
    a = make_router(redis_state, clock, config(breaker=BREAKER))
    b = make_router(other, clock, config(breaker=BREAKER))
    cs = cands(gemini=0.134, vertex=0.134)
    script = Script(clock, sync_time=True).plan("gemini", *[fail(Unavailable)] * 3)
    for _ in range(3):
        await a.run("m", cs, script, prefs=ProviderPreferences(order=["gemini"]), deadline=clock.now() + 300)
    snap = await b.snapshot("m", ["gemini", "vertex"])
    assert snap.get("gemini").breaker == "open" and snap.get("gemini").failures == 3
    assert snap.get("vertex").successes == 3
    script.calls.clear()
    await b.run("m", cs, script, prefs=ProviderPreferences(order=["gemini"]), deadline=clock.now() + 300)
    assert script.providers_called == ["vertex"]  # B avoids what A saw failing
    clock.advance(30)
    await b.run("m", cs, script, prefs=ProviderPreferences(order=["gemini"]), deadline=clock.now() + 300)
    assert (await a.snapshot("m", ["gemini"])).get("gemini").breaker == "closed"  # B's probe closed it for A


async def test_pauses_and_budgets_are_shared(redis_state, clock) -> None:
    other = RedisRouterState(redis_state.client, redis_state.prefix)
    a = make_router(redis_state, clock, config(retry_budget={"ratio": 0.0, "min_per_s": 0.1, "window_s": 10}))
    b = make_router(other, clock, config(retry_budget={"ratio": 0.0, "min_per_s": 0.1, "window_s": 10}))
    await a.pause("m", "gemini", clock.wall() + 60)
    assert (await b.snapshot("m", ["gemini"])).get("gemini").paused(clock.wall())
    assert await a.acquire_budget("retry")  # one token in the window for both
    assert not await b.acquire_budget("retry")


async def test_a_snapshot_is_one_round_trip(redis_state, clock) -> None:
    r = make_router(redis_state, clock)
    await r.snapshot("m", ["gemini", "vertex", "fal"], count_request=True)  # loads the script once
    sent: list[str] = []
    client = redis_state.client
    original_execute, original_command = client.pipeline, client.execute_command

    def pipeline(*args, **kwargs):  # type: ignore[no-untyped-def]
        pipe = original_execute(*args, **kwargs)
        execute = pipe.execute

        async def counted(*a, **k):  # type: ignore[no-untyped-def]
            sent.append(f"pipeline of {len(pipe.command_stack)}")
            return await execute(*a, **k)

        pipe.execute = counted
        return pipe

    async def command(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(args[0]))
        return await original_command(*args, **kwargs)

    client.pipeline, client.execute_command = pipeline, command
    try:
        await r.snapshot("m", ["gemini", "vertex", "fal", "replicate"], count_request=True)
    finally:
        client.pipeline, client.execute_command = original_execute, original_command
    assert sent == ["pipeline of 5"]  # EVALSHA (count the request) + 4 x HGETALL, one round trip


async def test_keys_are_namespaced_and_expire(redis_state, clock) -> None:
    r = make_router(redis_state, clock)
    await r.record("gemini-3-pro-image-preview", "gemini", True, 20.0)
    await r.snapshot("gemini-3-pro-image-preview", ["gemini"], count_request=True)
    keys = sorted([k async for k in redis_state.client.scan_iter(match=f"{redis_state.prefix}:*")])
    assert keys == [f"{redis_state.prefix}:budget", f"{redis_state.prefix}:offer:gemini-3-pro-image-preview:gemini"]
    for k in keys:
        assert 0 < await redis_state.client.ttl(k) <= r.params.ttl_s


async def test_lua_scripts_match_the_memory_twin(redis_state, clock) -> None:
    """The same random sequence of updates gives the same summaries, probes and budget answers."""
    params = state_params(config(health={"window_s": 60, "bucket_s": 10}, breaker={**BREAKER, "min_requests": 6},
                                 retry_budget={"window_s": 20, "bucket_s": 5}))  # fmt: skip
    mem = MemoryRouterState()
    rng = random.Random(3)
    now = 1_700_000_000.0
    for step in range(300):
        now += rng.choice([0.0, 0.5, 2.0, 7.0])
        provider = rng.choice(["gemini", "vertex"])
        op = rng.random()
        ok, latency = rng.random() < 0.6, rng.uniform(0.01, 90.0)
        answers = []
        for s in (mem, redis_state):
            if op < 0.55:
                await s.record("m", provider, ok, latency, now, params)
            elif op < 0.65:
                await s.pause("m", provider, now + 15, params)
            elif op < 0.8:
                answers.append(await s.acquire_probe("m", provider, now, params))
            else:
                kind = "retry" if op < 0.9 else "hedge"
                answers.append(await s.acquire_budget(kind, 0.3, 0.05, now, params))
        if answers:
            assert answers[0] == answers[1], f"step {step}"
        m = await mem.snapshot("m", ["gemini", "vertex"], now, params, count_request=step % 3 == 0)
        r = await redis_state.snapshot("m", ["gemini", "vertex"], now, params, count_request=step % 3 == 0)
        for p in ("gemini", "vertex"):
            a, b = m.get(p), r.get(p)
            assert (a.successes, a.failures, a.breaker, a.consecutive_failures, a.histogram, a.paused_until) == (
                b.successes, b.failures, b.breaker, b.consecutive_failures, b.histogram, b.paused_until,
            ), f"step {step}, {p}"  # fmt: skip
            assert a.success_latency_ms == pytest.approx(b.success_latency_ms)


async def test_a_redis_outage_never_fails_a_request(clock) -> None:
    down = RedisRouterState.from_url("redis://127.0.0.1:1/0", prefix="imagegate-test:down")
    try:
        r = make_router(down, clock)
        script = Script(clock, sync_time=True).plan("gemini", fail(Unavailable))
        routed = await r.run("m", cands(gemini=0.134, vertex=0.134), script, deadline=clock.now() + 300)
        assert [a.outcome for a in routed.attempts] == ["Unavailable", "success"]
    finally:
        await down.aclose()
