"""Ordering: preferences, policies, the auto score on the seed's fleet, health split. No attempts run here."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ProviderPreferences
from imagegate.router import MemoryRouterState, Router, RouterConfig
from imagegate.testing.clock import FakeClock
from tests.test_router_support import cands, config, make_router, names

FLEET = dict(gemini=0.134, vertex=0.134, fal=0.15, replicate=0.15)
# The seed page's last-30-days profile: (p50 s, success rate)
SEED = {"gemini": (19.6, 0.930), "vertex": (26.0, 0.674), "fal": (43.0, 0.362)}


async def feed(router: Router, model: str, provider: str, n: int, success: float, latency: float) -> None:
    """Record ``n`` outcomes with the given success share, spread evenly."""
    wins = 0
    for i in range(n):
        want = round((i + 1) * success)
        ok = want > wins
        wins += ok
        await router.record(model, provider, ok, latency)


async def fresh(router: Router, model: str, candidates: list) -> None:
    await router.snapshot(model, names(candidates))


def prefs(**kw: object) -> ProviderPreferences:
    return ProviderPreferences(**kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ preferences


def test_only_ignore_and_forced() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    cs = cands(**FLEET)
    assert names(r.order("m", cs, prefs(only=["fal", "vertex"]), None)) == ["vertex", "fal"]
    assert names(r.order("m", cs, prefs(only=["fal/m"]), None)) == ["fal"]  # config keys work too
    assert names(r.order("m", cs, prefs(ignore=["gemini", "vertex"]), None)) == ["fal", "replicate"]
    assert names(r.order("m", cs, None, "vertex")) == ["vertex"]
    assert r.order("m", cs, prefs(only=["nobody"]), None) == []


def test_order_puts_named_providers_first_and_keeps_the_rest() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    cs = cands(**FLEET)
    assert names(r.order("m", cs, prefs(order=["fal", "vertex"]), None)) == ["fal", "vertex", "gemini", "replicate"]
    assert names(r.order("m", cs, prefs(order=["fal"], allow_fallbacks=False), None)) == ["fal"]


def test_allow_fallbacks_false_keeps_only_the_first() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    assert names(r.order("m", cands(**FLEET), prefs(allow_fallbacks=False), None)) == ["gemini"]


def test_max_price_drops_expensive_offers_and_names_the_cheapest_when_none_is_left() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    cs = cands(fal=0.15, gemini=0.134, replicate=0.15)
    assert names(r.order("m", cs, prefs(max_price=0.14), None)) == ["gemini"]
    with pytest.raises(InvalidRequest) as err:
        r.order("m", cs, prefs(max_price=0.1), None)
    assert err.value.status == 400
    assert "0.134" in err.value.message and "gemini" in err.value.message


async def test_sort_by_price_latency_and_success() -> None:
    clock = FakeClock()
    r = make_router(MemoryRouterState(), clock)
    cs = cands(fal=0.10, vertex=0.20, gemini=0.30)
    await feed(r, "m", "fal", 40, 0.6, 40.0)  # under the breaker's 50 % failure rate
    await feed(r, "m", "vertex", 40, 0.99, 30.0)
    await feed(r, "m", "gemini", 40, 0.8, 10.0)
    await fresh(r, "m", cs)
    assert names(r.order("m", cs, prefs(sort="price"), None)) == ["fal", "vertex", "gemini"]
    assert names(r.order("m", cs, prefs(sort="latency"), None)) == ["gemini", "vertex", "fal"]
    assert names(r.order("m", cs, prefs(sort="success"), None)) == ["vertex", "gemini", "fal"]


# ------------------------------------------------------------------ policies


def test_cold_start_prefers_the_cheapest_then_catalog_order() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    assert names(r.order("m", cands(fal=0.15, replicate=0.15, gemini=0.134), None, None)) == [
        "gemini", "fal", "replicate",
    ]  # fmt: skip
    assert names(r.order("m", cands(b=0.1, a=0.1, c=0.1), None, None)) == ["b", "a", "c"]


async def test_auto_score_on_the_seed_fleet_orders_gemini_vertex_fal() -> None:
    r = make_router(MemoryRouterState(), FakeClock())
    cs = cands(fal=0.15, vertex=0.134, gemini=0.134)
    for p, (p50, success) in SEED.items():
        await feed(r, "m", p, 60, success, p50)
    await fresh(r, "m", cs)
    assert names(r.order("m", cs, None, None)) == ["gemini", "vertex", "fal"]


async def test_score_adapts_as_failures_arrive() -> None:
    clock = FakeClock()
    r = make_router(MemoryRouterState(), clock, config(breaker={"enabled": False}))
    cs = cands(gemini=0.134, vertex=0.134)
    await feed(r, "m", "gemini", 30, 1.0, 20.0)
    await feed(r, "m", "vertex", 30, 1.0, 26.0)
    await fresh(r, "m", cs)
    assert names(r.order("m", cs, None, None)) == ["gemini", "vertex"]
    await feed(r, "m", "gemini", 30, 0.0, 20.0)  # gemini starts failing: half its window now fails
    await fresh(r, "m", cs)
    assert names(r.order("m", cs, None, None)) == ["vertex", "gemini"]
    clock.advance(400)  # the window slides past the bad spell: back to priors, cheapest/catalog order
    await fresh(r, "m", cs)
    assert names(r.order("m", cs, None, None)) == ["gemini", "vertex"]


async def test_price_weight_trades_speed_for_price() -> None:
    cs = cands(fast=0.30, cheap=0.10)
    orders = {}
    for label, weights in {"latency": {"price": 0.1}, "price": {"latency": 0.1}}.items():
        r = make_router(MemoryRouterState(), FakeClock(), config(weights=weights))
        await feed(r, "m", "fast", 30, 1.0, 10.0)
        await feed(r, "m", "cheap", 30, 1.0, 30.0)
        await fresh(r, "m", cs)
        orders[label] = names(r.order("m", cs, None, None))
    assert orders == {"latency": ["fast", "cheap"], "price": ["cheap", "fast"]}


def test_priority_groups_are_tried_in_order_with_weighted_random_inside() -> None:
    cfg = RouterConfig.from_dict(
        {
            "models": {
                "m": {
                    "policy": "priority",
                    "groups": [
                        [{"provider": "gemini", "weight": 1}],
                        [{"provider": "vertex", "weight": 3}, {"provider": "replicate", "weight": 1}],
                    ],
                }
            }
        }  # fmt: skip
    )
    r = Router(MemoryRouterState(), cfg, FakeClock(), random.Random(1))
    cs = cands(**FLEET)
    seconds: Counter[str] = Counter()
    for _ in range(2000):
        got = names(r.order("m", cs, None, None))
        assert got[0] == "gemini" and set(got[1:3]) == {"vertex", "replicate"} and got[3] == "fal"
        seconds[got[1]] += 1
    assert 0.70 < seconds["vertex"] / 2000 < 0.80  # weight 3 of 4


def test_fixed_order_then_the_rest_by_score() -> None:
    cfg = RouterConfig.from_dict({"models": {"m": {"order": ["replicate", "vertex"]}}})
    r = Router(MemoryRouterState(), cfg, FakeClock())
    assert names(r.order("m", cands(**FLEET), None, None)) == ["replicate", "vertex", "gemini", "fal"]
    assert names(r.order("other", cands(**FLEET), None, None))[0] == "gemini"  # other models: auto


async def test_open_and_paused_offers_go_last() -> None:
    clock = FakeClock()
    r = make_router(MemoryRouterState(), clock, config(breaker={"consecutive_failures": 3}))
    cs = cands(**FLEET)
    await feed(r, "m", "gemini", 3, 0.0, 1.0)  # three in a row: open
    await r.pause("m", "vertex", clock.wall() + 60)
    await fresh(r, "m", cs)
    # auto prices vertex's 60 s wait into its score: behind the healthy offers, ahead of the open one
    assert names(r.order("m", cs, None, None)) == ["fal", "replicate", "vertex", "gemini"]
    # an explicit sort does not weigh waits: open and paused offers are both the last resort
    by_price = names(r.order("m", cs, ProviderPreferences(sort="price"), None))
    assert by_price[:2] == ["fal", "replicate"] or by_price[:2] == ["replicate", "fal"]
    assert set(by_price[2:]) == {"gemini", "vertex"}
    clock.advance(61)  # the pause is over; gemini's cool-down too: half-open, probe-able, back in the pool
    snap = await r.snapshot("m", names(cs))
    assert snap.get("gemini").breaker == "half_open" and not snap.get("vertex").paused(clock.wall())
    order = names(r.order("m", cs, None, None))
    # by score alone again: gemini's failures were fast (1 s), so its expected time per success still wins
    assert order == ["gemini", "vertex", "fal", "replicate"]


def test_cold_offers_use_the_catalogs_expected_figures_as_priors() -> None:
    from imagegate.catalog.schema import ExpectedPerformance
    from imagegate.router import Candidate
    from tests.test_router_support import offer

    def with_expected(provider: str, success: float, p50_ms: float) -> Candidate:
        o = offer(provider).model_copy(
            update={"expected": ExpectedPerformance(success_rate=success, p50_ms=p50_ms, source="seed")}
        )
        return Candidate(offer=o, estimated_cost_micros=150_000)

    flaky_first = [
        with_expected("fal", 0.362, 42_967),
        with_expected("vertex", 0.674, 25_988),
        with_expected("gemini", 0.93, 19_586),
    ]
    router = Router(MemoryRouterState())
    assert [c.provider for c in router.order("m", flaky_first)] == ["gemini", "vertex", "fal"]
    # Without figures every cold offer gets the same generic prior: catalog order decides.
    plain = cands(fal=0.15, vertex=0.15, gemini=0.15)
    assert [c.provider for c in router.order("m", plain)] == ["fal", "vertex", "gemini"]
