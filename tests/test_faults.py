"""Fault injection for the fakes: drawn latencies, stragglers, failure mix, outages (imagegate/testing/faults.py)."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from imagegate.testing.faults import FaultInjector, FaultProfile
from imagegate.testing.profiles import BEST, STRAGGLER_FACTOR, STRAGGLER_RATE, scenario_profiles


def draws(profile: FaultProfile, n: int = 4000) -> list[float]:
    injector = FaultInjector(profile)
    return [injector.decide().latency_s for _ in range(n)]


def test_latency_is_lognormal_fitted_to_p50_and_p95() -> None:
    lat = sorted(draws(FaultProfile(p50_ms=20_000, p95_ms=36_000, seed=7)))
    assert statistics.median(lat) == pytest.approx(20.0, rel=0.05)
    assert lat[int(0.95 * len(lat))] == pytest.approx(36.0, rel=0.08)


def test_stragglers_stretch_their_share_of_latencies_and_leave_the_rest_alone() -> None:
    base = FaultProfile(p50_ms=10_000, p95_ms=10_000, seed=3)  # every normal answer takes exactly 10 s
    lat = draws(FaultProfile(p50_ms=10_000, p95_ms=10_000, straggler_rate=0.2, straggler_factor=5, seed=3))
    slow = [x for x in lat if x > 10.001]
    assert all(x == pytest.approx(10.0) for x in draws(base, 10))
    assert all(x == pytest.approx(50.0) for x in slow)
    assert len(slow) / len(lat) == pytest.approx(0.2, abs=0.03)


def test_no_stragglers_draws_the_same_sequence_as_before() -> None:
    """Without stragglers a seeded run is what it was before they existed: one gauss and one roll per request."""
    injector = FaultInjector(FaultProfile(p50_ms=19_600, p95_ms=35_600, straggler_factor=4.0, seed=11))
    rng = random.Random(11)
    mu, sigma = math.log(19_600), (math.log(35_600) - math.log(19_600)) / 1.6448536269514722
    expected = []
    for _ in range(50):
        expected.append(math.exp(rng.gauss(mu, sigma)) / 1000)
        rng.random()  # the failure roll
    assert [injector.decide().latency_s for _ in range(50)] == pytest.approx(expected)


@pytest.mark.parametrize("bad", [{"straggler_rate": 1.5}, {"straggler_rate": -0.1}, {"straggler_factor": 0.5}])
def test_invalid_straggler_settings_are_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        FaultProfile(**bad)


def test_parse_short_form_with_stragglers_and_failures() -> None:
    p = FaultProfile.parse("p50=19.6,p95=35.6,unavailable=0.07,straggler_rate=0.05,straggler_factor=6,seed=2")
    assert (p.p50_ms, p.p95_ms, p.rates, p.straggler_rate, p.straggler_factor, p.seed) == (
        19_600,
        35_600,
        {"unavailable": 0.07},
        0.05,
        6.0,
        2,
    )


def test_failure_mix_and_outage_window() -> None:
    now = [0.0]
    injector = FaultInjector(
        FaultProfile(rates={"rate_limited": 0.5}, outages=[(10, 20)], outage_fault="unavailable", seed=5),
        clock=lambda: now[0],
    )
    faults = [injector.decide().fault for _ in range(2000)]
    assert faults.count("rate_limited") / len(faults) == pytest.approx(0.5, abs=0.05)
    now[0] = 15.0
    assert {injector.decide().fault for _ in range(20)} == {"unavailable"}
    now[0] = 25.0
    injector.force("server_error", "ok")
    assert [injector.decide().fault for _ in range(2)] == ["server_error", None]


def test_stragglers_scenario_slows_only_the_best_provider() -> None:
    profiles = scenario_profiles("stragglers", time_scale=0.05, seed=1)
    assert (profiles[BEST].straggler_rate, profiles[BEST].straggler_factor) == (STRAGGLER_RATE, STRAGGLER_FACTOR)
    assert all(p.straggler_rate == 0 for name, p in profiles.items() if name != BEST)
