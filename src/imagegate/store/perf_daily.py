"""A daily per-(model, provider) rollup of the attempts log, so pages read performance without scanning the log.

``perf_daily`` holds, per UTC day, the attempt and success counts, the latency sum and log-spaced histograms of
generation time and time to first byte (successful attempts only; cancelled hedge losers left out, as in
``store.stats``). ``refresh`` folds in the attempts added since its watermark (``perf_rollup_state``), in one
transaction, so concurrent refreshers (several workers) serialise and never count a row twice; the web layer runs
it in the background at least once a minute. Percentiles read from the histograms are within one bucket (2 %).

Known limit: the watermark is the attempts table's id. On PostgreSQL with several writers an id can commit after a
larger one; such a straggler (committed after a refresh passed its id) is left out of the rollup.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import BigInteger, Date, Engine, Float, Integer, String, Table, Text, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from imagegate.store.models import AttemptRow, Base

BUCKET_RATIO = 1.02  # histogram resolution: a percentile is off by at most this factor
_LOG_RATIO = math.log(BUCKET_RATIO)
_BATCH = 100_000  # attempts folded in per statement
_PG_LOCK = 0x1A6E6A7F


class PerfDailyRow(Base):
    __tablename__ = "perf_daily"

    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    provider: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(Date(), primary_key=True)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    successes: Mapped[int] = mapped_column(Integer, default=0)
    latency_sum_ms: Mapped[float] = mapped_column(Float, default=0.0)
    latency_hist: Mapped[str] = mapped_column(Text, default="{}")  # JSON {bucket: count}
    ttfb_hist: Mapped[str] = mapped_column(Text, default="{}")


class PerfRollupState(Base):
    __tablename__ = "perf_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    last_attempt_id: Mapped[int] = mapped_column(BigInteger, default=0)


def bucket(ms: float) -> int:
    return 0 if ms < 1.0 else int(math.log(ms) / _LOG_RATIO) + 1


def bucket_value(b: int) -> float:
    """A bucket's representative value: the geometric middle of its bounds."""
    return 0.5 if b <= 0 else math.exp((b - 0.5) * _LOG_RATIO)


@dataclass
class Agg:
    """One (model, provider, day) cell, or several merged."""

    requests: int = 0
    successes: int = 0
    latency_sum_ms: float = 0.0
    latency: dict[int, int] = field(default_factory=dict)
    ttfb: dict[int, int] = field(default_factory=dict)

    def add(self, outcome: str, latency_ms: float, ttfb_ms: float | None) -> None:
        self.requests += 1
        if outcome == "success":
            self.successes += 1
            self.latency_sum_ms += latency_ms
            b = bucket(latency_ms)
            self.latency[b] = self.latency.get(b, 0) + 1
            if ttfb_ms is not None:
                t = bucket(ttfb_ms)
                self.ttfb[t] = self.ttfb.get(t, 0) + 1

    def merge(self, other: Agg) -> None:
        self.requests += other.requests
        self.successes += other.successes
        self.latency_sum_ms += other.latency_sum_ms
        for mine, theirs in ((self.latency, other.latency), (self.ttfb, other.ttfb)):
            for b, n in theirs.items():
                mine[b] = mine.get(b, 0) + n

    def figures(self) -> dict[str, Any]:
        """The same keys as ``store.stats.summarize`` gives per provider."""
        return {
            "requests": self.requests,
            "successes": self.successes,
            "success_rate": self.successes / self.requests if self.requests else None,
            "latency_p50_ms": hist_percentile(self.latency, 50),
            "latency_p95_ms": hist_percentile(self.latency, 95),
            "latency_avg_ms": self.latency_sum_ms / self.successes if self.successes else None,
            "ttfb_p50_ms": hist_percentile(self.ttfb, 50),
            "ttfb_p95_ms": hist_percentile(self.ttfb, 95),
        }


def hist_percentile(hist: dict[int, int], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of a histogram, by rank like ``store.stats.percentile``."""
    total = sum(hist.values())
    if not total:
        return None
    keys = sorted(hist)
    cumulative = []
    running = 0
    for k in keys:
        running += hist[k]
        cumulative.append(running)
    rank = (total - 1) * q / 100
    lo = bisect.bisect_right(cumulative, math.floor(rank))
    hi = bisect.bisect_right(cumulative, math.ceil(rank))
    a, b = bucket_value(keys[min(lo, len(keys) - 1)]), bucket_value(keys[min(hi, len(keys) - 1)])
    return a + (b - a) * (rank - math.floor(rank))


def _load(row: Any) -> Agg:
    return Agg(
        row.requests,
        row.successes,
        row.latency_sum_ms,
        {int(k): v for k, v in orjson.loads(row.latency_hist).items()},
        {int(k): v for k, v in orjson.loads(row.ttfb_hist).items()},
    )


def _dump(hist: dict[int, int]) -> str:
    return orjson.dumps({str(k): v for k, v in sorted(hist.items())}).decode()


def refresh(engine: Engine) -> int:
    """Fold the attempts logged since the last refresh into ``perf_daily``; returns how many were read.
    Blocking: call it off the event loop."""
    total = 0
    while True:
        n = _refresh_batch(engine)
        total += n
        if n < _BATCH:
            return total


def _refresh_batch(engine: Engine) -> int:
    table: Table = PerfDailyRow.__table__  # type: ignore[assignment]
    state: Table = PerfRollupState.__table__  # type: ignore[assignment]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        else:  # take SQLite's write lock first, so two refreshers never read the same watermark
            conn.execute(update(state).where(state.c.id == 1).values(last_attempt_id=state.c.last_attempt_id))
        mark = conn.execute(select(state.c.last_attempt_id).where(state.c.id == 1)).scalar()
        if mark is None:
            conn.execute(state.insert().values(id=1, last_attempt_id=0))
            mark = 0
        a = AttemptRow.__table__
        rows = conn.execute(
            select(a.c.id, a.c.model, a.c.provider, a.c.created_at, a.c.outcome, a.c.latency_ms, a.c.ttfb_ms)
            .where(a.c.id > mark)
            .order_by(a.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return 0
        cells: dict[tuple[str, str, date], Agg] = {}
        for _id, model, provider, created, outcome, latency_ms, ttfb_ms in rows:
            if model is None or outcome.lower() == "cancelled":
                continue
            created = created if isinstance(created, datetime) else datetime.fromisoformat(str(created))
            key = (model, provider, created.date())
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Agg()
            cell.add(outcome, latency_ms, ttfb_ms)
        for (model, provider, day), cell in cells.items():
            where = (table.c.model == model) & (table.c.provider == provider) & (table.c.day == day)
            old = conn.execute(select(table).where(where)).first()
            if old is not None:
                merged = _load(old)
                merged.merge(cell)
                cell = merged
            values = {
                "requests": cell.requests,
                "successes": cell.successes,
                "latency_sum_ms": cell.latency_sum_ms,
                "latency_hist": _dump(cell.latency),
                "ttfb_hist": _dump(cell.ttfb),
            }
            if old is None:
                conn.execute(table.insert().values(model=model, provider=provider, day=day, **values))
            else:
                conn.execute(table.update().where(where).values(**values))
        conn.execute(update(state).where(state.c.id == 1).values(last_attempt_id=rows[-1][0]))
        return len(rows)


def read(engine: Engine, model_id: str, days: int, today: date | None = None) -> dict[str, list[tuple[date, Agg]]]:
    """Per provider, the daily cells of ``model_id`` over the last ``days`` UTC days (today included), by day."""
    today = today or datetime.now(UTC).date()
    since = today - timedelta(days=days - 1)
    t = PerfDailyRow.__table__
    with engine.connect() as conn:
        rows = conn.execute(
            select(t).where(t.c.model == model_id, t.c.day >= since).order_by(t.c.provider, t.c.day)
        ).all()
    out: dict[str, list[tuple[date, Agg]]] = {}
    for row in rows:
        out.setdefault(row.provider, []).append((row.day, _load(row)))
    return out


def totals(cells: Iterable[tuple[date, Agg]]) -> Agg:
    agg = Agg()
    for _day, cell in cells:
        agg.merge(cell)
    return agg
