"""The pages' performance figures: kept in memory from the daily rollup (``store.perf_daily``), never from the log.

A background task (``PagePerformance.run``) folds new attempts into the rollup every ``perf_refresh_s`` seconds and
then re-reads the last ``stats_window_days`` days of the rollup for every model into a snapshot. A page view only
reads that snapshot: no database call, whatever the size of the request log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from imagegate.store import perf_daily
from imagegate.store.db import Database
from imagegate.store.perf_daily import Agg, PerfDailyRow

log = logging.getLogger("imagegate.web")


@dataclass(frozen=True)
class DayPoint:
    day: date
    requests: int
    success_rate: float | None
    p50_ms: float | None
    p95_ms: float | None


@dataclass(frozen=True)
class ProviderPerf:
    provider: str
    figures: dict[str, Any]  # the keys of store.stats.summarize
    daily: tuple[DayPoint, ...]


@dataclass
class Snapshot:
    window_days: int
    start: date
    end: date
    taken_at: float
    models: dict[str, dict[str, ProviderPerf]] = field(default_factory=dict)

    def model(self, model_id: str) -> dict[str, ProviderPerf]:
        return self.models.get(model_id, {})

    def overall(self, model_id: str) -> dict[str, Any] | None:
        """All providers of a model together (for the models list), or ``None`` without data."""
        cells = self._cells.get(model_id)
        return cells.figures() if cells is not None else None

    _cells: dict[str, Agg] = field(default_factory=dict)


def build_snapshot(db: Database, window_days: int, today: date | None = None) -> Snapshot:
    """Read the rollup's last ``window_days`` days (today included) for every model. Blocking."""
    today = today or datetime.now(UTC).date()
    start = today - timedelta(days=window_days - 1)
    t = PerfDailyRow.__table__
    with db.engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.day >= start).order_by(t.c.model, t.c.provider, t.c.day)).all()
    grouped: dict[str, dict[str, list[tuple[date, Agg]]]] = {}
    for row in rows:
        grouped.setdefault(row.model, {}).setdefault(row.provider, []).append((row.day, perf_daily._load(row)))
    snap = Snapshot(window_days, start, today, time.time())
    for model, providers in grouped.items():
        overall = Agg()
        per: dict[str, ProviderPerf] = {}
        for provider, cells in providers.items():
            total = perf_daily.totals(cells)
            overall.merge(total)
            daily = tuple(
                DayPoint(
                    day,
                    c.requests,
                    c.successes / c.requests if c.requests else None,
                    perf_daily.hist_percentile(c.latency, 50),
                    perf_daily.hist_percentile(c.latency, 95),
                )
                for day, c in cells
            )
            per[provider] = ProviderPerf(provider, total.figures(), daily)
        snap.models[model] = per
        snap._cells[model] = overall
    return snap


class PagePerformance:
    """Owns the rollup refresh loop and the snapshot the pages read."""

    def __init__(self, db: Database, window_days: int = 30, interval_s: float = 30.0) -> None:
        self.db = db
        self.window_days = window_days
        self.interval_s = interval_s
        today = datetime.now(UTC).date()
        self.snapshot = Snapshot(window_days, today - timedelta(days=window_days - 1), today, 0.0)
        self.ready = asyncio.Event()

    def refresh_blocking(self) -> Snapshot:
        perf_daily.refresh(self.db.engine)
        self.snapshot = build_snapshot(self.db, self.window_days)
        return self.snapshot

    async def refresh(self) -> Snapshot:
        snap = await asyncio.to_thread(self.refresh_blocking)
        self.ready.set()
        return snap

    async def run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # keep going; the pages show the last snapshot
                log.warning("performance rollup refresh failed: %s", type(exc).__name__)
            await asyncio.sleep(self.interval_s)
