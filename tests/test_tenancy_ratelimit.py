"""Sliding-window rate limits: in memory (a fake clock) and in Redis (shared by two limiters, an own prefix)."""

from __future__ import annotations

import uuid

import pytest

from imagegate.tenancy.ratelimit import MemoryRateLimiter, RedisRateLimiter, duration


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def test_memory_window_slides_and_weights_count() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    assert (await limiter.hit("k", 3, 2)).remaining == 1
    clock.t += 20
    assert (await limiter.hit("k", 3, 1)).remaining == 0
    refused = await limiter.hit("k", 3, 1)
    assert not refused.allowed and refused.retry_after_s == pytest.approx(40)  # the first hit leaves at t0+60
    clock.t += 40
    assert (await limiter.hit("k", 3, 2)).allowed  # the 2 left the window, the later 1 is still in it
    assert not (await limiter.hit("k", 3, 1)).allowed
    assert not (await limiter.hit("other", 3, 4)).allowed  # never fits


async def test_redis_limit_is_shared_by_every_limiter() -> None:
    import redis.asyncio as redis

    client = redis.from_url("redis://127.0.0.1:6379")
    try:
        await client.ping()
    except Exception:
        await client.aclose()
        pytest.fail("Redis at 127.0.0.1:6379 does not answer")
    prefix = f"ig_test_{uuid.uuid4().hex[:10]}"
    one = RedisRateLimiter(client, prefix)
    two = RedisRateLimiter(redis.from_url("redis://127.0.0.1:6379"), prefix)
    try:
        decisions = [await (one if i % 2 else two).hit("key_x:requests", 5) for i in range(7)]
        assert [d.allowed for d in decisions] == [True] * 5 + [False] * 2
        assert [d.remaining for d in decisions[:5]] == [4, 3, 2, 1, 0]
        assert 59 < decisions[-1].retry_after_s <= 60
        assert not (await one.hit("key_x:images", 3, 4)).allowed
    finally:
        keys = [k async for k in client.scan_iter(f"{prefix}:*")]
        if keys:
            await client.delete(*keys)
        await one.aclose()
        await two.aclose()


def test_duration_is_openai_form() -> None:
    assert duration(0.02) == "20ms"
    assert duration(1.5) == "1.5s"
    assert duration(60) == "1m0s"
    assert duration(59.9996) == "1m0s"
