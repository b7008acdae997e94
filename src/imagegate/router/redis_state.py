"""``RedisRouterState``: the router's state shared by every worker and replica through Redis.

Layout (``prefix`` defaults to ``imagegate:router``; fields are described in ``health.py``):

    {prefix}:offer:{model}:{provider}   hash  window buckets, latency histogram, breaker, pause (EXPIRE ttl)
    {prefix}:budget                     hash  per budget bucket: requests (r), retries (t), hedges (g)

Hot path: ``snapshot`` is ONE round trip (a non-transactional pipeline: EVALSHA counting the request + one
HGETALL per offer). Writes are single EVALSHA calls of small Lua scripts, so updates are atomic across
processes. Scripts are loaded once; a NOSCRIPT (Redis restarted or flushed) reloads them and retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

try:
    import redis.asyncio as redis
    from redis.exceptions import NoScriptError
except ModuleNotFoundError:  # the 'redis' extra; from_url names it
    redis = None  # type: ignore[assignment]

    class NoScriptError(Exception):  # type: ignore[no-redef]
        pass


from imagegate.router import health
from imagegate.router.health import StateParams
from imagegate.router.state import BUDGET_FIELD, BudgetKind, StateSnapshot

_ROLLOVER = """
local cb = tonumber(redis.call('HGET', key, 'cb') or '-1')
if cur > cb then
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local b = string.match(f, '^(%-?%d+):')
    if b and tonumber(b) <= cur - nb then redis.call('HDEL', key, f) end
  end
  redis.call('HSET', key, 'cb', string.format('%d', cur))
end
"""

RECORD_LUA = (
    """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local ok = ARGV[2] == '1'
local bucket_s = tonumber(ARGV[5])
local nb = tonumber(ARGV[6])
local cur = math.floor(now / bucket_s)
"""
    + _ROLLOVER
    + """
local pre = string.format('%d', cur) .. ':'
if ok then
  redis.call('HINCRBY', key, pre .. 's', 1)
  redis.call('HINCRBYFLOAT', key, pre .. 'ls', ARGV[3])
  redis.call('HINCRBY', key, pre .. 'h' .. ARGV[4], 1)
  redis.call('HSET', key, 'cf', 0, 'st', 0, 'pr', 0)
else
  redis.call('HINCRBY', key, pre .. 'f', 1)
  redis.call('HINCRBYFLOAT', key, pre .. 'fl', ARGV[3])
  local cf = redis.call('HINCRBY', key, 'cf', 1)
  if ARGV[7] == '1' then
    local cooldown = tonumber(ARGV[11])
    if tonumber(redis.call('HGET', key, 'st') or '0') == 1 then
      if now >= tonumber(redis.call('HGET', key, 'oa') or '0') + cooldown then
        redis.call('HSET', key, 'oa', ARGV[1], 'pr', 0)
      end
    else
      local open = cf >= tonumber(ARGV[8])
      if not open then
        local s, n = 0, 0
        for b = cur - nb + 1, cur do
          local bs = string.format('%d', b)
          local v = redis.call('HMGET', key, bs .. ':s', bs .. ':f')
          local sv = tonumber(v[1] or '0')
          s = s + sv
          n = n + sv + tonumber(v[2] or '0')
        end
        open = n >= tonumber(ARGV[10]) and (n - s) / n >= tonumber(ARGV[9])
      end
      if open then redis.call('HSET', key, 'st', 1, 'oa', ARGV[1], 'pr', 0) end
    end
  end
end
redis.call('EXPIRE', key, tonumber(ARGV[12]))
return 1
"""
)

PROBE_LUA = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local cooldown = tonumber(ARGV[2])
if tonumber(redis.call('HGET', key, 'st') or '0') ~= 1 then return 1 end
if now < tonumber(redis.call('HGET', key, 'oa') or '0') + cooldown then return 0 end
local pr = tonumber(redis.call('HGET', key, 'pr') or '0')
if pr < tonumber(ARGV[3]) then
  redis.call('HSET', key, 'pr', pr + 1, 'pa', ARGV[1])
  return 1
end
if now >= tonumber(redis.call('HGET', key, 'pa') or '0') + cooldown then
  redis.call('HSET', key, 'pr', 1, 'pa', ARGV[1])
  return 1
end
return 0
"""

PAUSE_LUA = """
if tonumber(ARGV[1]) > tonumber(redis.call('HGET', KEYS[1], 'pu') or '0') then
  redis.call('HSET', KEYS[1], 'pu', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

BUDGET_LUA = (
    """
local key = KEYS[1]
local now = tonumber(ARGV[1])
local bucket_s = tonumber(ARGV[2])
local nb = tonumber(ARGV[3])
local kind = ARGV[4]
local cur = math.floor(now / bucket_s)
"""
    + _ROLLOVER
    + """
if kind ~= 'r' then
  local reqs, used = 0, 0
  for b = cur - nb + 1, cur do
    local bs = string.format('%d', b)
    local v = redis.call('HMGET', key, bs .. ':r', bs .. ':' .. kind)
    reqs = reqs + tonumber(v[1] or '0')
    used = used + tonumber(v[2] or '0')
  end
  if used + 1 > tonumber(ARGV[5]) * reqs + tonumber(ARGV[6]) * bucket_s * nb then return 0 end
end
redis.call('HINCRBY', key, string.format('%d', cur) .. ':' .. kind, 1)
redis.call('EXPIRE', key, tonumber(ARGV[7]))
return 1
"""
)


class RedisRouterState:
    def __init__(self, client: redis.Redis, prefix: str = "imagegate:router") -> None:
        self.client = client
        self.prefix = prefix.rstrip(":")
        self._record = client.register_script(RECORD_LUA)
        self._probe = client.register_script(PROBE_LUA)
        self._pause = client.register_script(PAUSE_LUA)
        self._budget = client.register_script(BUDGET_LUA)
        self._names: dict[str, health.FieldName] = {}  # parsed field names ("123:h7"), cleared when large

    @classmethod
    def from_url(cls, url: str = "redis://127.0.0.1:6379/0", prefix: str = "imagegate:router") -> RedisRouterState:
        if redis is None:
            from imagegate.extras import missing

            raise missing("redis", "redis_url (routing state in Redis)", "redis")
        return cls(redis.Redis.from_url(url, decode_responses=True), prefix)

    def offer_key(self, model_id: str, provider: str) -> str:
        return f"{self.prefix}:offer:{model_id}:{provider}"

    @property
    def budget_key(self) -> str:
        return f"{self.prefix}:budget"

    def _budget_args(self, now_wall: float, kind: str, ratio: float, min_per_s: float, p: StateParams) -> list[Any]:
        return [repr(now_wall), repr(p.budget_bucket_s), p.budget_buckets, kind, repr(ratio), repr(min_per_s), p.ttl_s]

    async def snapshot(
        self, model_id: str, providers: Sequence[str], now_wall: float, params: StateParams, *, count_request: bool
    ) -> StateSnapshot:
        names = list(dict.fromkeys(providers))
        for attempt in range(2):
            pipe = self.client.pipeline(transaction=False)
            if count_request:
                pipe.evalsha(self._budget.sha, 1, self.budget_key, *self._budget_args(now_wall, "r", 0, 0, params))
            for p in names:
                pipe.hgetall(self.offer_key(model_id, p))
            try:
                results = await pipe.execute()
                break
            except NoScriptError:
                if attempt:
                    raise
                await self.client.script_load(BUDGET_LUA)
        rows = results[1:] if count_request else results
        if len(self._names) > 8192:
            self._names.clear()
        offers = {
            p: health.summarise(row or {}, now_wall, params, self._names) for p, row in zip(names, rows, strict=True)
        }
        return StateSnapshot(offers=offers, taken_at=now_wall)

    async def record(
        self, model_id: str, provider: str, ok: bool, latency_s: float, now_wall: float, params: StateParams
    ) -> None:
        ms = latency_s * 1000.0
        args = [
            repr(now_wall), "1" if ok else "0", repr(ms), health.latency_bin(ms), repr(params.bucket_s),
            params.buckets, "1" if params.breaker_enabled else "0", params.consecutive_failures,
            repr(params.failure_rate), params.min_requests, repr(params.cooldown_s), params.ttl_s,
        ]  # fmt: skip
        await self._record(keys=[self.offer_key(model_id, provider)], args=args)

    async def pause(self, model_id: str, provider: str, until_wall: float, params: StateParams) -> None:
        await self._pause(keys=[self.offer_key(model_id, provider)], args=[repr(until_wall), params.ttl_s])

    async def acquire_probe(self, model_id: str, provider: str, now_wall: float, params: StateParams) -> bool:
        args: list[str | int] = [repr(now_wall), repr(params.cooldown_s), params.half_open_probes]
        return bool(await self._probe(keys=[self.offer_key(model_id, provider)], args=args))

    async def acquire_budget(
        self, kind: BudgetKind, ratio: float, min_per_s: float, now_wall: float, params: StateParams
    ) -> bool:
        args = self._budget_args(now_wall, BUDGET_FIELD[kind], ratio, min_per_s, params)
        return bool(await self._budget(keys=[self.budget_key], args=args))

    async def clear(self) -> int:
        """Delete every key under this prefix (tests, or a reset from the CLI)."""
        keys = [k async for k in self.client.scan_iter(match=f"{self.prefix}:*", count=500)]
        return int(await self.client.delete(*keys)) if keys else 0

    async def aclose(self) -> None:
        await self.client.aclose()
