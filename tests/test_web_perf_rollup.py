"""The pages' daily performance rollup: the same figures as the raw-log statistics (within one 2 % bucket),
folded in incrementally, never twice, per UTC day; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from imagegate.store import perf_daily
from imagegate.store.db import Database
from imagegate.store.request_log import ATTEMPT_COLUMNS
from imagegate.store.stats import provider_stats
from imagegate.web.perf import build_snapshot

NOW = datetime.now(UTC).replace(microsecond=0)
SINCE_MIDNIGHT_S = NOW.hour * 3600 + NOW.minute * 60 + NOW.second
MODEL = "gemini-3-pro-image-preview"
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def db(sql_db: Database) -> Database:
    return sql_db  # SQLite and PostgreSQL (tests/conftest.py)


def rows(db: Database, n: int, seed: int, *, days: int = 5) -> list[tuple]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        provider = rng.choice(["gemini", "vertex", "fal"])
        outcome = rng.choices(["success", "ProviderTimeout", "cancelled"], [8, 2, 1])[0]
        latency = rng.lognormvariate(9.8, 0.5)
        ttfb = latency * 0.97 if rng.random() < 0.9 else None
        # within the hour before NOW's time of day, but never across midnight (5 days are 5 UTC days at any hour)
        created = NOW - timedelta(days=rng.randrange(days), seconds=rng.randrange(min(3600, SINCE_MIDNIGHT_S + 1)))
        values = {
            "request_id": f"req_{seed}_{i}", "created_at": created, "model": MODEL, "provider": provider,
            "provider_model_id": "m", "outcome": outcome, "status": None, "error": None, "latency_ms": latency,
            "ttfb_ms": ttfb, "cost_micros": 0, "hedged": False, "image_count": 1, "image_bytes": 1,
            "possibly_billed": False, "limit_hit": None,
        }  # fmt: skip
        out.append(tuple(db.log_time(values[c]) if c == "created_at" else values[c] for c in ATTEMPT_COLUMNS))
    return out


def close(a: float | None, b: float | None, rel: float = 0.021) -> bool:
    return a is None and b is None or (a is not None and b is not None and abs(a - b) <= rel * b)


def test_rollup_matches_the_raw_statistics_and_folds_in_only_new_rows(db: Database) -> None:
    db.write_log([], rows(db, 3000, seed=1))
    assert perf_daily.refresh(db.engine) == 3000
    db.write_log([], rows(db, 1000, seed=2))
    assert perf_daily.refresh(db.engine) == 1000
    assert perf_daily.refresh(db.engine) == 0  # nothing new: nothing counted twice

    snap = build_snapshot(db, 30)
    raw = {r["provider"]: r for r in provider_stats(db, MODEL, NOW - timedelta(days=30))}
    rolled = snap.model(MODEL)
    assert set(rolled) == set(raw) == {"gemini", "vertex", "fal"}
    for provider, want in raw.items():
        got = rolled[provider].figures
        assert got["requests"] == want["requests"] and got["successes"] == want["successes"]
        assert got["success_rate"] == pytest.approx(want["success_rate"])
        assert got["latency_avg_ms"] == pytest.approx(want["latency_avg_ms"])
        for key in ("latency_p50_ms", "latency_p95_ms", "ttfb_p50_ms", "ttfb_p95_ms"):
            assert close(got[key], want[key]), (provider, key, got[key], want[key])
        daily = rolled[provider].daily
        assert sum(d.requests for d in daily) == want["requests"]
        assert len({d.day for d in daily}) == len(daily) <= 5
    overall = snap.overall(MODEL)
    assert overall is not None and overall["requests"] == sum(r["requests"] for r in raw.values())


def test_old_days_fall_out_of_the_window(db: Database) -> None:
    db.write_log([], rows(db, 200, seed=3, days=60))
    perf_daily.refresh(db.engine)
    snap = build_snapshot(db, 30)
    raw = provider_stats(db, MODEL, datetime.combine(snap.start, datetime.min.time(), UTC))
    assert sum(p.figures["requests"] for p in snap.model(MODEL).values()) == sum(r["requests"] for r in raw)
    assert all(d.day >= snap.start for p in snap.model(MODEL).values() for d in p.daily)


def test_histogram_percentile_is_within_one_bucket() -> None:
    values = sorted(random.Random(4).uniform(50, 90_000) for _ in range(5000))
    hist: dict[int, int] = {}
    for v in values:
        b = perf_daily.bucket(v)
        hist[b] = hist.get(b, 0) + 1
    from imagegate.store.stats import percentile

    for q in (1, 50, 95, 99):
        assert close(perf_daily.hist_percentile(hist, q), percentile(values, q))
    assert perf_daily.hist_percentile({}, 50) is None
