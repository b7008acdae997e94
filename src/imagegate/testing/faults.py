"""Fault injection shared by every fake provider server.

A ``FaultProfile`` says how a fake misbehaves: a latency distribution (lognormal fitted to a p50
and a p95, optionally with a share of stragglers), error rates by class, outage windows and slow
bodies. A ``FaultInjector`` draws one ``Decision`` per request from a seeded RNG, so a run is
reproducible. Each fake renders the error classes in its own provider's wire format; this module
only decides and waits.

Profiles come from code (``FaultProfile(...)``) or the command line (``FaultProfile.parse``):
JSON, or ``key=value`` pairs such as ``p50=19.6,p95=35.6,unavailable=0.07,time_scale=0.05``.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import orjson

# Error classes a fake knows how to render, in its own provider's format.
FAULT_KINDS = (
    "rate_limited",  # 429 with a retry-after
    "server_error",  # 500
    "unavailable",  # 503 / overloaded
    "timeout",  # never answers (until the client gives up)
    "reset",  # TCP connection dropped without an HTTP answer
    "malformed",  # 200 with a body that is not valid JSON
    "content_policy",  # the provider's content-policy refusal
)

_Z95 = 1.6448536269514722  # standard normal quantile of 0.95


@dataclass(slots=True)
class Decision:
    latency_s: float  # wait before answering (scaled)
    fault: str | None = None  # one of FAULT_KINDS or None
    slow_body: bool = False


@dataclass
class FaultProfile:
    p50_ms: float = 0.0  # 0 = answer at once
    p95_ms: float = 0.0
    time_scale: float = 1.0  # multiply every latency (e.g. 0.05 to run 20x faster)
    rates: dict[str, float] = field(default_factory=dict)  # fault kind -> probability per request
    retry_after_s: float = 2.0
    outages: list[tuple[float, float]] = field(default_factory=list)  # seconds since start, [from, to)
    outage_fault: str = "unavailable"
    slow_body_rate: float = 0.0
    slow_body_chunk_delay_s: float = 0.05
    fail_after_latency: bool = True  # failures also take a drawn latency (like a real overloaded backend)
    straggler_rate: float = 0.0  # share of requests whose drawn latency is multiplied by straggler_factor
    straggler_factor: float = 1.0  # (a stalled replica: the long, rare tail that hedging is for)
    seed: int | None = None

    def __post_init__(self) -> None:
        for kind in self.rates:
            if kind not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(FAULT_KINDS)}")
        if sum(self.rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
        if not 0.0 <= self.straggler_rate <= 1.0 or self.straggler_factor < 1.0:
            raise ValueError("straggler_rate must be within 0-1 and straggler_factor at least 1")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultProfile:
        names = {f.name for f in fields(cls)}
        kwargs: dict[str, Any] = {}
        rates: dict[str, float] = dict(data.get("rates", {}))
        for key, value in data.items():
            if key == "rates":
                continue
            if key in ("p50", "p95"):
                kwargs[f"{key}_ms"] = float(value) * 1000  # seconds in the short form
            elif key in FAULT_KINDS:
                rates[key] = float(value)
            elif key == "outages":
                kwargs["outages"] = [tuple(map(float, w)) for w in value]
            elif key in names:
                kwargs[key] = value
            else:
                raise ValueError(f"unknown fault profile key {key!r}")
        kwargs["rates"] = rates
        return cls(**kwargs)

    @classmethod
    def parse(cls, spec: str) -> FaultProfile:
        """Parse JSON, or ``k=v,k=v`` (``outage=10-20`` adds a window, seconds since start)."""
        spec = spec.strip()
        if not spec:
            return cls()
        if spec.startswith("{"):
            return cls.from_dict(orjson.loads(spec))
        data: dict[str, Any] = {}
        outages: list[tuple[float, float]] = []
        for part in spec.split(","):
            key, _, value = part.partition("=")
            key = key.strip()
            if key == "outage":
                a, _, b = value.partition("-")
                outages.append((float(a), float(b)))
            elif key == "outage_fault":
                data[key] = value.strip()
            elif key == "seed":
                data[key] = int(value)
            elif key == "fail_after_latency":
                data[key] = value.strip().lower() in ("1", "true", "yes")
            else:
                data[key] = float(value)
        if outages:
            data["outages"] = outages
        return cls.from_dict(data)

    @property
    def success_rate(self) -> float:
        return 1.0 - sum(self.rates.values())


class FaultInjector:
    """Draws decisions for one fake. ``clock`` is injectable for deterministic tests."""

    def __init__(self, profile: FaultProfile | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.profile = profile or FaultProfile()
        self._clock = clock
        self._started = clock()
        self._rng = random.Random(self.profile.seed)
        self.forced: list[str] = []  # queue of faults to inject next, for tests
        self.requests = 0

    def reconfigure(self, profile: FaultProfile) -> None:
        self.profile = profile
        self._rng = random.Random(profile.seed)
        self._started = self._clock()

    def force(self, *faults: str) -> None:
        """Make the next requests fail with these faults, in order ("ok" lets one through)."""
        for f in faults:
            if f != "ok" and f not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {f!r}")
        self.forced.extend(faults)

    def _latency_s(self) -> float:
        p = self.profile
        if p.p50_ms <= 0:
            return 0.0
        mu = math.log(p.p50_ms)
        sigma = max(0.0, (math.log(max(p.p95_ms, p.p50_ms)) - mu) / _Z95)
        latency = math.exp(self._rng.gauss(mu, sigma)) / 1000 * p.time_scale
        if p.straggler_rate > 0 and self._rng.random() < p.straggler_rate:  # no extra draw without stragglers
            latency *= p.straggler_factor
        return latency

    def in_outage(self) -> bool:
        since = self._clock() - self._started
        return any(a * self.profile.time_scale <= since < b * self.profile.time_scale for a, b in self.profile.outages)

    def decide(self) -> Decision:
        self.requests += 1
        p = self.profile
        latency = self._latency_s()
        if self.forced:
            forced = self.forced.pop(0)
            return Decision(latency_s=0.0, fault=None if forced == "ok" else forced)
        if self.in_outage():
            return Decision(latency_s=0.0, fault=p.outage_fault)
        roll = self._rng.random()
        acc = 0.0
        fault = None
        for kind, rate in p.rates.items():
            acc += rate
            if roll < acc:
                fault = kind
                break
        slow = p.slow_body_rate > 0 and self._rng.random() < p.slow_body_rate
        if fault is not None and not p.fail_after_latency:
            latency = 0.0
        return Decision(latency_s=latency, fault=fault, slow_body=slow)

    async def wait(self, decision: Decision) -> None:
        if decision.fault == "timeout":
            await asyncio.sleep(3600)  # the client's deadline ends this
        elif decision.latency_s > 0:
            await asyncio.sleep(decision.latency_s)
