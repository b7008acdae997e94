"""Shared helpers and fixtures for the router tests (offers, scripted attempt functions, states, clocks)."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import redis.asyncio as aioredis

from imagegate.catalog.schema import Offer, PriceComponent, Pricing
from imagegate.core.errors import ProviderError
from imagegate.core.types import GeneratedImage, ImageResult
from imagegate.router import (
    AttemptContext,
    Candidate,
    MemoryRouterState,
    RedisRouterState,
    Router,
    RouterConfig,
)
from imagegate.testing.clock import FakeClock

REDIS_URL = "redis://127.0.0.1:6379/0"


def offer(provider: str, model: str = "m") -> Offer:
    return Offer(
        provider=provider,
        provider_name=provider.title(),
        provider_model_id=f"{provider}-{model}",
        config_key=f"{provider}/{model}",
        pricing=Pricing(
            components=(PriceComponent(type="output", metric="image", unit_price=0.1),),
            source_url="https://example.test",
            effective_at=dt.date(2025, 1, 1),
        ),
    )


def cands(**prices_usd: float) -> list[Candidate]:
    """Candidates in keyword order: ``cands(gemini=0.134, vertex=0.134)``."""
    return [Candidate(offer=offer(p), estimated_cost_micros=round(v * 1_000_000)) for p, v in prices_usd.items()]


def names(candidates: list[Candidate]) -> list[str]:
    return [c.provider for c in candidates]


@dataclass
class Step:
    """What one scripted attempt does: wait ``latency`` seconds, then succeed or raise ``error``."""

    latency: float = 1.0
    error: type[ProviderError] | None = None
    retry_after: float | None = None
    status: int | None = None
    hang: bool = False  # never answer (until cancelled)


def ok(latency: float = 1.0) -> Step:
    return Step(latency)


def fail(error: type[ProviderError], latency: float = 1.0, **kw: object) -> Step:
    return Step(latency, error, **kw)  # type: ignore[arg-type]


@dataclass
class Script:
    """A scripted ``AttemptFn``. Each provider plays its steps in order, then its ``default``.

    ``sync_time``: latency advances the fake clock at once instead of sleeping (deterministic even when the
    state does real I/O, as with Redis)."""

    clock: FakeClock
    steps: dict[str, deque[Step]] = field(default_factory=lambda: defaultdict(deque))
    default: dict[str, Step] = field(default_factory=dict)
    sync_time: bool = False
    calls: list[tuple[str, AttemptContext]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def plan(self, provider: str, *steps: Step, default: Step | None = None) -> Script:
        self.steps[provider].extend(steps)
        if default is not None:
            self.default[provider] = default
        return self

    async def __call__(self, c: Candidate, ctx: AttemptContext) -> ImageResult:
        self.calls.append((c.provider, ctx))
        q = self.steps[c.provider]
        step = q.popleft() if q else self.default.get(c.provider, Step())
        try:
            if step.hang:
                await self.clock.sleep(1e9)
            elif self.sync_time:
                self.clock.advance(step.latency)
            else:
                await self.clock.sleep(step.latency)
        except BaseException:
            self.cancelled.append(c.provider)
            raise
        if step.error is not None:
            raise step.error(f"{c.provider} said no", provider=c.provider, status=step.status,
                             retry_after=step.retry_after)  # fmt: skip
        return ImageResult(images=[GeneratedImage(mime_type="image/png", data=b"png:" + c.provider.encode())])

    @property
    def providers_called(self) -> list[str]:
        return [p for p, _ in self.calls]


def cost_of(c: Candidate, result: ImageResult) -> int:
    return c.estimated_cost_micros


def config(**sections: object) -> RouterConfig:
    return RouterConfig.from_dict(dict(sections))


def make_router(state: object, clock: FakeClock, cfg: RouterConfig | None = None, seed: int = 7) -> Router:
    return Router(state, cfg or RouterConfig(), clock, random.Random(seed))  # type: ignore[arg-type]


async def redis_available() -> bool:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@pytest.fixture
async def clock() -> AsyncIterator[FakeClock]:
    c = FakeClock()
    yield c
    await c.aclose()


@pytest.fixture
async def redis_state() -> AsyncIterator[RedisRouterState]:
    if not await redis_available():
        pytest.skip("no Redis at 127.0.0.1:6379")
    state = RedisRouterState.from_url(REDIS_URL, prefix=f"imagegate-test:{uuid.uuid4().hex}")
    yield state
    await state.clear()
    await state.aclose()


@pytest.fixture(params=["memory", "redis"])
async def state(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    """The behavioural tests run over both state backends."""
    if request.param == "memory":
        yield MemoryRouterState()
        return
    if not await redis_available():
        pytest.skip("no Redis at 127.0.0.1:6379")
    s = RedisRouterState.from_url(REDIS_URL, prefix=f"imagegate-test:{uuid.uuid4().hex}")
    yield s
    await s.clear()
    await s.aclose()
