"""Per-key sliding-window rate limits (requests per minute, images per minute).

A sliding log: every admitted hit is kept with its weight (1 per request, ``n`` per image request) for the window;
a hit is admitted when the weights in the last 60 s plus its own stay within the limit. ``RedisRateLimiter`` keeps the
log in one sorted set per key and limit, checked and written by one Lua script on Redis's own clock, so every worker
and replica shares it; ``MemoryRateLimiter`` is the same per process (one worker, no Redis).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("imagegate.tenancy")

WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset_s: float  # until the window is empty again (the limit back to its initial state)
    retry_after_s: float = 0.0  # when refused: until enough of the window has passed for this hit


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, weight: int = 1) -> Decision: ...

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, window_s: float = WINDOW_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.window_s = window_s
        self._clock = clock
        self._logs: dict[str, deque[tuple[float, int]]] = {}

    async def hit(self, key: str, limit: int, weight: int = 1) -> Decision:
        now = self._clock()
        entries = self._logs.setdefault(key, deque())
        while entries and entries[0][0] <= now - self.window_s:
            entries.popleft()
        used = sum(w for _, w in entries)
        newest = entries[-1][0] if entries else now
        if used + weight > limit:
            need, freed, retry = used + weight - limit, 0, self.window_s
            for at, w in entries:
                freed += w
                if freed >= need:
                    retry = at + self.window_s - now
                    break
            return Decision(False, limit, max(0, limit - used), newest + self.window_s - now, max(retry, 0.001))
        entries.append((now, weight))
        if len(self._logs) > 100_000:  # forget idle keys
            self._logs = {k: v for k, v in self._logs.items() if v and v[-1][0] > now - self.window_s}
        return Decision(True, limit, limit - used - weight, self.window_s)

    async def aclose(self) -> None:
        return None


HIT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local w = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local entries = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for i = 1, #entries, 2 do used = used + tonumber(string.match(entries[i], '^(%d+):')) end
local newest = now
if #entries > 0 then newest = tonumber(entries[#entries]) end
if used + w > limit then
  local need, freed, retry = used + w - limit, 0, window
  for i = 1, #entries, 2 do
    freed = freed + tonumber(string.match(entries[i], '^(%d+):'))
    if freed >= need then retry = tonumber(entries[i + 1]) + window - now break end
  end
  return {0, limit - used, newest + window - now, retry}
end
redis.call('ZADD', KEYS[1], now, w .. ':' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], window)
return {1, limit - used - w, window, 0}
"""


class RedisRateLimiter:
    """The sliding log in Redis: one sorted set per key and limit under ``prefix``, shared by every replica."""

    def __init__(self, client, prefix: str, window_s: float = WINDOW_S) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.prefix = prefix
        self.window_ms = int(window_s * 1000)
        self._script = client.register_script(HIT_LUA)

    @classmethod
    def from_url(cls, url: str, prefix: str) -> RedisRateLimiter:
        import redis.asyncio as redis

        return cls(redis.from_url(url), prefix)

    async def hit(self, key: str, limit: int, weight: int = 1) -> Decision:
        try:
            ok, remaining, reset_ms, retry_ms = await self._script(
                keys=[f"{self.prefix}:{key}"], args=[self.window_ms, limit, weight, secrets.token_hex(8)]
            )
        except Exception as exc:  # Redis away: admit (availability over a limit), and say so
            log.warning("rate limit check failed, request admitted: %s", type(exc).__name__)
            return Decision(True, limit, limit, self.window_ms / 1000)
        return Decision(bool(ok), limit, max(0, int(remaining)), int(reset_ms) / 1000, max(int(retry_ms), 1) / 1000)

    async def aclose(self) -> None:
        await self.client.aclose()


def duration(seconds: float) -> str:
    """OpenAI's form of ``x-ratelimit-reset-*``: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(round(seconds, 3), 60)
    rest_s = f"{rest:.3f}".rstrip("0").rstrip(".")
    return f"{int(minutes)}m{rest_s}s" if minutes else f"{rest_s}s"
