"""Circuit breaker per (model, provider): closed -> open -> half-open -> closed, last resort, probes.

Parametrized over the memory and the Redis state.
"""

from __future__ import annotations

from imagegate.core.errors import Unavailable
from imagegate.core.types import ProviderPreferences
from imagegate.router import StateParams
from tests.test_router_support import Script, cands, clock, config, fail, make_router, ok, state

__all__ = ["clock", "state"]  # fixtures

BREAKER = {"consecutive_failures": 3, "cooldown_s": 30, "half_open_probes": 1, "min_requests": 10}
GEMINI_FIRST = ProviderPreferences(order=["gemini"])


async def breaker_of(r, provider: str = "gemini") -> str:  # type: ignore[no-untyped-def]
    return (await r.snapshot("m", [provider])).get(provider).breaker


async def test_closed_open_half_open_closed(state, clock) -> None:
    r = make_router(state, clock, config(breaker=BREAKER))
    cs = cands(gemini=0.134, vertex=0.134)
    script = Script(clock, sync_time=True).plan("gemini", *[fail(Unavailable)] * 3)
    for _ in range(3):
        assert await breaker_of(r) == "closed"
        await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)
    assert await breaker_of(r) == "open"

    script.calls.clear()  # open: not tried while a healthy offer answers
    await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)
    assert script.providers_called == ["vertex"]

    clock.advance(30)  # cool-down over: half-open, one probe goes first again and its success closes it
    assert await breaker_of(r) == "half_open"
    script.calls.clear()
    routed = await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)
    assert script.providers_called == ["gemini"] and routed.candidate.provider == "gemini"
    assert await breaker_of(r) == "closed"


async def test_a_failed_probe_opens_again_for_a_new_cool_down(state, clock) -> None:
    r = make_router(state, clock, config(breaker=BREAKER))
    cs = cands(gemini=0.134, vertex=0.134)
    script = Script(clock, sync_time=True).plan("gemini", *[fail(Unavailable)] * 4)
    for _ in range(3):
        await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)
    clock.advance(31)
    await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)  # the probe fails
    assert await breaker_of(r) == "open"
    clock.advance(28)  # the probe failed 1 s ago (vertex then took 1 s): 29 s into the new cool-down
    assert await breaker_of(r) == "open"  # the cool-down restarted at the failed probe
    clock.advance(2)
    assert await breaker_of(r) == "half_open"


async def test_half_open_grants_a_limited_number_of_probes(state, clock) -> None:
    r = make_router(state, clock, config(breaker={**BREAKER, "half_open_probes": 2}))
    for _ in range(3):
        await r.record("m", "gemini", False, 1.0)
    assert not await r.acquire_probe("m", "gemini")  # open, cooling down
    clock.advance(30)
    assert [await r.acquire_probe("m", "gemini") for _ in range(3)] == [True, True, False]
    clock.advance(30)  # the probes never reported back: a new one is granted
    assert await r.acquire_probe("m", "gemini")
    assert await r.acquire_probe("m", "vertex")  # a closed breaker never limits


async def test_a_half_open_offer_without_a_probe_slot_becomes_last_resort(state, clock) -> None:
    r = make_router(state, clock, config(breaker=BREAKER))
    cs = cands(gemini=0.134, vertex=0.134)
    for _ in range(3):
        await r.record("m", "gemini", False, 1.0)
    clock.advance(30)
    assert await r.acquire_probe("m", "gemini")  # another worker holds the only probe
    script = Script(clock, sync_time=True)
    await r.run("m", cs, script, prefs=GEMINI_FIRST, deadline=clock.now() + 300)
    assert script.providers_called == ["vertex"]


async def test_open_offers_are_tried_as_a_last_resort(state, clock) -> None:
    r = make_router(state, clock, config(breaker=BREAKER, retry={"max_attempts_per_offer": 1}))
    cs = cands(gemini=0.134, vertex=0.134, fal=0.15)
    for _ in range(3):
        await r.record("m", "gemini", False, 1.0)
    script = Script(clock, sync_time=True).plan("vertex", fail(Unavailable)).plan("fal", fail(Unavailable))
    routed = await r.run("m", cs, script, deadline=clock.now() + 300)
    assert script.providers_called == ["vertex", "fal", "gemini"]
    assert routed.candidate.provider == "gemini"
    assert await breaker_of(r) == "closed"  # its success closed it


async def test_failure_rate_over_the_window_opens_with_a_minimum_of_requests(state, clock) -> None:
    r = make_router(state, clock, config(breaker={**BREAKER, "consecutive_failures": 100, "failure_rate": 0.5}))
    for i in range(9):  # 9 requests, 5 failures (never 3 in a row... but consecutive is 100 here)
        await r.record("m", "fal", i % 2 == 0 and i < 8, 1.0)
    assert await breaker_of(r, "fal") == "closed"  # below min_requests (10)
    await r.record("m", "fal", False, 1.0)
    assert await breaker_of(r, "fal") == "open"  # 10 requests, 5 failed: 50 %


async def test_disabled_breaker_never_opens(state, clock) -> None:
    r = make_router(state, clock, config(breaker={"enabled": False}))
    for _ in range(50):
        await r.record("m", "gemini", False, 1.0)
    assert await breaker_of(r) == "closed"


async def test_breakers_are_per_model(state, clock) -> None:
    r = make_router(state, clock, config(breaker=BREAKER))
    for _ in range(3):
        await r.record("m", "gemini", False, 1.0)
    assert await breaker_of(r) == "open"
    assert (await r.snapshot("other", ["gemini"])).get("gemini").breaker == "closed"


async def test_window_slides_and_old_buckets_are_forgotten(state, clock) -> None:
    r = make_router(state, clock, config(health={"window_s": 60, "bucket_s": 10}, breaker={"enabled": False}))
    for _ in range(4):
        await r.record("m", "gemini", True, 2.0)
    clock.advance(30)
    await r.record("m", "gemini", False, 2.0)
    h = (await r.snapshot("m", ["gemini"])).get("gemini")
    assert (h.successes, h.failures) == (4, 1)
    clock.advance(40)  # the first four are 70 s old: out of the 60 s window
    await r.record("m", "gemini", True, 2.0)
    h = (await r.snapshot("m", ["gemini"])).get("gemini")
    assert (h.successes, h.failures) == (1, 1)


def test_state_params_follow_the_config() -> None:
    from imagegate.router import state_params

    p = state_params(config(health={"window_s": 300, "bucket_s": 30}, breaker=BREAKER))
    assert isinstance(p, StateParams) and p.buckets == 10 and p.consecutive_failures == 3 and p.ttl_s > 600
    assert ok  # the support module's helpers import cleanly
