"""provider_stats on a known data set: counts, success rate, percentiles, the time window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from imagegate.store.db import Database
from imagegate.store.request_log import ATTEMPT_COLUMNS
from imagegate.store.stats import percentile, summarize
from imagegate.telemetry.recorder import provider_stats

NOW = datetime(2026, 3, 1, tzinfo=UTC)
MODEL = "gemini-3-pro-image-preview"


def attempt(
    provider: str,
    outcome: str,
    latency: float,
    ttfb: float | None = None,
    *,
    model: str = MODEL,
    age: timedelta = timedelta(days=1),
    i: int = 0,
    cost: int = 0,
    possibly_billed: bool = False,
) -> dict:
    return {
        "request_id": f"req_{provider}_{i}",
        "created_at": NOW - age,
        "model": model,
        "provider": provider,
        "provider_model_id": "m",
        "outcome": outcome,
        "status": None,
        "error": None,
        "latency_ms": latency,
        "ttfb_ms": ttfb,
        "cost_micros": cost,
        "hedged": False,
        "image_count": 1,
        "image_bytes": 10,
        "possibly_billed": possibly_billed,
        "limit_hit": None,
    }


def as_row(db: Database, attempt: dict) -> tuple:
    return tuple(db.log_time(v) if c == "created_at" else v for c, v in ((c, attempt[c]) for c in ATTEMPT_COLUMNS))


def test_percentile_interpolates_linearly() -> None:
    assert percentile([], 50) is None
    assert percentile([7.0], 95) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([float(v) for v in range(1, 11)], 95) == pytest.approx(9.55)
    assert percentile([float(v) for v in range(1, 11)], 0) == 1.0
    assert percentile([float(v) for v in range(1, 11)], 100) == 10.0


def test_provider_stats_on_a_known_data_set(db: Database) -> None:
    rows = []
    # gemini: 10 successes with latencies 1000..10000 ms and ttfb 100..1000 ms, 2 failures (fast 429s)
    rows += [attempt("gemini", "success", 1000.0 * k, 100.0 * k, i=k) for k in range(1, 11)]
    rows += [attempt("gemini", "RateLimited", 20.0, i=100 + k) for k in range(2)]
    # vertex: 1 success without ttfb, 3 failures, 1 cancelled hedge loser (not counted)
    rows += [attempt("vertex", "success", 4000.0, i=1, cost=134_000)]
    rows += [attempt("vertex", "Unavailable", 500.0, i=10 + k) for k in range(3)]
    rows += [attempt("vertex", "cancelled", 900.0, i=20, cost=134_000, possibly_billed=True)]
    # outside the window or another model: ignored
    rows += [attempt("gemini", "Unavailable", 1.0, age=timedelta(days=31), i=200)]
    rows += [attempt("fal", "success", 1.0, model="other-model", i=300)]
    db.write_log([], [as_row(db, r) for r in rows])

    stats = provider_stats(db, MODEL, NOW - timedelta(days=30))
    assert [s["provider"] for s in stats] == ["gemini", "vertex"]
    gemini, vertex = stats
    assert gemini["requests"] == 12 and gemini["successes"] == 10
    assert gemini["success_rate"] == pytest.approx(10 / 12)
    assert gemini["latency_p50_ms"] == pytest.approx(5500.0)
    assert gemini["latency_p95_ms"] == pytest.approx(9550.0)
    assert gemini["latency_avg_ms"] == pytest.approx(5500.0)
    assert gemini["ttfb_p50_ms"] == pytest.approx(550.0)
    assert gemini["ttfb_p95_ms"] == pytest.approx(955.0)
    assert vertex == {
        "provider": "vertex",
        "requests": 4,
        "successes": 1,
        "success_rate": 0.25,
        "latency_p50_ms": 4000.0,
        "latency_p95_ms": 4000.0,
        "latency_avg_ms": 4000.0,
        "ttfb_p50_ms": None,
        "ttfb_p95_ms": None,
        # the cancelled hedge loser is out of the performance figures but shown apart in the spend
        "spend_micros": 134_000,
        "possibly_billed": 1,
        "possibly_billed_micros": 134_000,
    }
    assert provider_stats(db, "unknown-model", NOW - timedelta(days=30)) == []


def test_provider_with_only_failures() -> None:
    [only] = summarize([("fal", "Timeout", 30000.0, None, 0, False), ("fal", "Timeout", 30000.0, None, 0, False)])
    assert only["requests"] == 2 and only["successes"] == 0 and only["success_rate"] == 0.0
    assert only["latency_p50_ms"] is None and only["latency_avg_ms"] is None


def test_possibly_billed_calls_are_shown_apart_in_the_reports(db: Database) -> None:
    """A cancelled hedge loser the provider may bill: in the API's figures and in ``imagegate stats`` (issue 9)."""
    from imagegate.catalog import load_catalog
    from imagegate.telemetry.performance import format_block, model_providers

    rows = [attempt("gemini", "success", 1000.0, i=1, cost=134_000),
            attempt("gemini", "cancelled", 900.0, i=2, cost=134_000, possibly_billed=True)]  # fmt: skip
    db.write_log([], [as_row(db, r) for r in rows])
    model = load_catalog().get(MODEL)
    assert model is not None
    body = model_providers(db, model, window_days=30, active={"gemini"}, now=NOW)
    gemini = next(p for p in body["data"] if p["provider"] == "gemini")["performance"]
    assert (gemini["requests"], gemini["spend_micros"], gemini["possibly_billed"]) == (1, 134_000, 1)
    text = format_block(body)
    assert "- Spend: $0.1340" in text and "- Possibly billed (cancelled in flight): 1 call(s), $0.1340" in text
