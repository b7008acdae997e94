"""The seed's measured provider figures as ``FaultProfile``s, plus the benchmark's scenario variants.

Source: the model page in ``shared/seed`` ("Performance Metrics", last 30 days) for gemini-3-pro-image-preview:

=========  ======  =======  ========
provider   p50     p95      success
=========  ======  =======  ========
gemini     19.6 s   35.6 s   93.0 %
vertex     26.0 s  102.9 s   67.4 %
fal        43.0 s   83.4 s   36.2 %
replicate  30.0 s   60.0 s   90.0 %   (chosen, see below)
=========  ======  =======  ========

Replicate: the seed has no performance figures for it. It serves the same Google model behind its own
prediction queue, so we take Gemini's latency plus queueing (p50 30 s, p95 60 s, about 1.5x Gemini's) and a
success rate a little under Gemini direct (90 %): a provider that is never the best on any axis, so a
router that sends it traffic must have a reason (Gemini failing or paused).

Failures are split across classes as a busy image API fails: 55 % ``unavailable`` (503), 25 % ``server_error``
(500), 15 % ``rate_limited`` (429 with a Retry-After of 5 s) and 5 % ``timeout`` (no answer until the caller
gives up). Failures take a drawn latency like successes (``fail_after_latency``): an overloaded backend often
fails late. Latencies are lognormal fitted to p50/p95 and multiplied by ``time_scale`` (e.g. 0.05 runs 20x
faster); retry-after and outage windows are given in real seconds and scaled the same way.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from imagegate.testing.faults import FaultProfile

# provider -> (p50 s, p95 s, success rate)
SEED_FIGURES: dict[str, tuple[float, float, float]] = {
    "gemini": (19.6, 35.6, 0.930),
    "vertex": (26.0, 102.9, 0.674),
    "fal": (43.0, 83.4, 0.362),
    "replicate": (30.0, 60.0, 0.900),
}
FAILURE_SPLIT: dict[str, float] = {"unavailable": 0.55, "server_error": 0.25, "rate_limited": 0.15, "timeout": 0.05}
RETRY_AFTER_S = 5.0  # real seconds, on every 429 of the failure mix
BEST = "gemini"  # the best single provider on the seed's figures (success and latency)
SCENARIOS = ("seed", "outage", "bursts", "stragglers")
# ``stragglers``: 5 % of the best provider's answers stall 6x longer (a stuck replica), the rare long tail of
# "The Tail at Scale" that hedging is made for; the seed's own tails are lognormal and narrow (docs/benchmarks.md)
STRAGGLER_RATE = 0.05
STRAGGLER_FACTOR = 6.0


def seed_profiles(time_scale: float, seed: int | None = None) -> dict[str, FaultProfile]:
    """One profile per provider (gemini, vertex, fal, replicate); each gets its own RNG stream from ``seed``."""
    out: dict[str, FaultProfile] = {}
    for i, (name, (p50, p95, success)) in enumerate(SEED_FIGURES.items()):
        failure = 1.0 - success
        rates = {kind: failure * share for kind, share in FAILURE_SPLIT.items()}
        out[name] = FaultProfile(
            p50_ms=p50 * 1000,
            p95_ms=p95 * 1000,
            time_scale=time_scale,
            rates=rates,
            retry_after_s=RETRY_AFTER_S * time_scale,
            fail_after_latency=True,
            seed=None if seed is None else seed * 101 + i,
        )
    return out


def expected_run_s(requests: int, concurrency: int) -> float:
    """A rough length of a closed-loop run in real seconds (about 25 s per request per slot)."""
    return max(1, requests) / max(1, concurrency) * 25.0


def outage_windows(run_s: float, share: float = 0.3, start: float = 0.2) -> list[tuple[float, float]]:
    """One window covering ``share`` of the run, starting at ``start`` of it (real seconds)."""
    return [(run_s * start, run_s * (start + share))]


def burst_windows(run_s: float, every_s: float = 60.0, length_s: float = 15.0) -> list[tuple[float, float]]:
    """Bursts of ``length_s`` every ``every_s`` (real seconds), the first one after ``every_s / 2``."""
    out: list[tuple[float, float]] = []
    t = every_s / 2
    while t < run_s * 1.5:  # runs can last longer than estimated
        out.append((t, t + length_s))
        t += every_s
    return out


def scenario_profiles(
    scenario: str, time_scale: float, seed: int | None = None, run_s: float = 375.0
) -> dict[str, FaultProfile]:
    """``seed``: the seed's figures. ``outage``: the best provider (gemini) answers 503 at once for 30 % of the
    run. ``bursts``: gemini answers 429 (Retry-After 10 s) in 15 s bursts every 60 s. ``stragglers``: 5 % of
    gemini's answers take 6x their drawn latency. ``run_s``: real seconds."""
    profiles = seed_profiles(time_scale, seed)
    best = profiles[BEST]
    if scenario == "seed":
        pass
    elif scenario == "outage":
        profiles[BEST] = dataclasses.replace(best, outages=outage_windows(run_s), outage_fault="unavailable")
    elif scenario == "bursts":
        profiles[BEST] = dataclasses.replace(
            best, outages=burst_windows(run_s), outage_fault="rate_limited", retry_after_s=10.0 * time_scale
        )
    elif scenario == "stragglers":
        profiles[BEST] = dataclasses.replace(best, straggler_rate=STRAGGLER_RATE, straggler_factor=STRAGGLER_FACTOR)
    else:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    return profiles


def profile_json(profile: FaultProfile) -> dict[str, Any]:
    """A profile as the fakes' ``--faults`` option takes it (JSON form of ``FaultProfile.parse``)."""
    data = dataclasses.asdict(profile)
    data["outages"] = [list(w) for w in profile.outages]
    return data


# Router settings given in real seconds; ``time_scaled_routing`` multiplies them for a time-scaled fleet.
_SECONDS = {
    "health": ("window_s", "bucket_s", "prior_latency_s"),
    "breaker": ("cooldown_s",),
    "retry": ("backoff_base_s", "backoff_cap_s", "max_retry_after_s"),
    "retry_budget": ("window_s", "bucket_s"),
    "attempt_timeout": ("floor_s", "cold_s"),
    "hedging": ("floor_s", "cold_delay_s"),
}
_RATES = {"retry_budget": ("min_per_s",), "hedging": ("min_per_s",)}  # per second: divided by the scale
_DEFAULTS: dict[str, dict[str, float]] = {  # the router's defaults for the keys above (router/config.py)
    "health": {"window_s": 300.0, "bucket_s": 30.0, "prior_latency_s": 30.0},
    "breaker": {"cooldown_s": 30.0},
    "retry": {"backoff_base_s": 0.5, "backoff_cap_s": 8.0, "max_retry_after_s": 300.0},
    "retry_budget": {"window_s": 60.0, "bucket_s": 5.0, "min_per_s": 1.0},
    "attempt_timeout": {"floor_s": 10.0},
    "hedging": {"floor_s": 1.0, "min_per_s": 0.0},
}


def time_scaled_routing(routing: dict[str, Any], time_scale: float) -> dict[str, Any]:
    """A ``routing:`` section (real seconds, the router's defaults filled in) with every duration multiplied
    by ``time_scale`` and every per-second rate divided by it, so the router behaves in scaled time as it
    would in real time. Per-model sections are copied unchanged except their ``hedging`` durations."""
    out: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in routing.items()}
    for section in set(_SECONDS) | set(_RATES):
        values = {**_DEFAULTS.get(section, {}), **out.get(section, {})}
        for key in _SECONDS.get(section, ()):
            if values.get(key) is not None:
                values[key] = float(values[key]) * time_scale
        for key in _RATES.get(section, ()):
            if values.get(key) is not None:
                values[key] = float(values[key]) / time_scale
        out[section] = values
    out["health"]["expected_latency_scale"] = time_scale  # the catalog's expected latencies are real seconds
    for model_id, model in (out.get("models") or {}).items():
        if isinstance(model, dict) and isinstance(model.get("hedging"), dict):
            h = dict(model["hedging"])
            for key in ("floor_s", "cold_delay_s"):
                if h.get(key) is not None:
                    h[key] = float(h[key]) * time_scale
            if h.get("min_per_s") is not None:
                h["min_per_s"] = float(h["min_per_s"]) / time_scale
            out["models"][model_id] = {**model, "hedging": h}
    return out
