"""Tenancy: API keys with policies, budgets (reserve / settle), per-key rate limits, spend reports.

Everything that must hold across replicas lives in shared stores: keys, budgets and the key version stamp in the
database, rate-limit windows in Redis when ``redis_url`` is set (in memory otherwise).
"""

from __future__ import annotations

from imagegate.pipeline import Gateway
from imagegate.settings import Settings
from imagegate.store.db import Database
from imagegate.tenancy.budgets import BudgetLedger
from imagegate.tenancy.directory import KeyDirectory
from imagegate.tenancy.guard import Tenancy
from imagegate.tenancy.keystore import KeyStore
from imagegate.tenancy.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter


def build_tenancy(settings: Settings, db: Database, gateway: Gateway) -> Tenancy:
    limiter: RateLimiter
    if settings.redis_url:
        limiter = RedisRateLimiter.from_url(settings.redis_url, prefix=f"{settings.redis_prefix}:ratelimit")
    else:
        limiter = MemoryRateLimiter()
    # a hold outlives any request (the request deadline plus the graceful-shutdown margin)
    ledger = BudgetLedger(db, hold_s=settings.request_timeout_s + 60)
    return Tenancy(keys=KeyStore(db), ledger=ledger, limiter=limiter, gateway=gateway)


__all__ = ["KeyDirectory", "KeyStore", "Tenancy", "build_tenancy"]
