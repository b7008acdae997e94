"""Budget ledger: atomic reservations under concurrency on SQLite and PostgreSQL, settle and release, stale holds."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from imagegate.store.db import Database, run_migrations
from imagegate.tenancy.budgets import BudgetLedger, Reservation, Usage, period_bounds

A = 134_000  # one request's estimate, micros


def ledger_for(url: str, hold_s: float = 600) -> BudgetLedger:
    run_migrations(url)
    return BudgetLedger(Database(url), hold_s=hold_s)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request, tmp_path) -> BudgetLedger:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    led = ledger_for(url)
    yield led
    led.db.dispose()


def test_200_concurrent_reservations_never_exceed_the_budget(ledger: BudgetLedger) -> None:
    budget = 50 * A + A // 2

    def one(_: int) -> int:
        held = ledger.reserve("key_a", budget, "month", A)
        if isinstance(held, Usage):
            return 0
        ledger.settle(held, A)
        return A

    with ThreadPoolExecutor(16) as pool:
        spent = sum(pool.map(one, range(200)))
    usage = ledger.usage("key_a", "month")
    assert spent == usage.spent_micros == 50 * A <= budget
    assert usage.reserved_micros == 0


def test_settle_release_and_other_periods(ledger: BudgetLedger) -> None:
    t0 = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    r = ledger.reserve("key_b", 3 * A, "day", 2 * A, now=t0)
    assert isinstance(r, Reservation)
    assert ledger.usage("key_b", "day", now=t0).reserved_micros == 2 * A
    refused = ledger.reserve("key_b", 3 * A, "day", 2 * A, now=t0)
    assert isinstance(refused, Usage) and refused.reserved_micros == 2 * A
    ledger.settle(r, A // 2)  # actual cost below the estimate
    u = ledger.usage("key_b", "day", now=t0)
    assert (u.spent_micros, u.reserved_micros) == (A // 2, 0)
    ledger.release(ledger.reserve("key_b", 3 * A, "day", A, now=t0))  # type: ignore[arg-type]
    assert ledger.usage("key_b", "day", now=t0).spent_micros == A // 2
    tomorrow = t0 + timedelta(hours=2)  # a new day, a new ledger
    assert ledger.usage("key_b", "day", now=tomorrow).spent_micros == 0
    assert ledger.usage("key_b", "day", now=tomorrow).period_end == datetime(2027, 1, 2, tzinfo=UTC)


def test_a_dead_replicas_hold_is_released_after_it_expires(ledger: BudgetLedger) -> None:
    t0 = datetime(2026, 6, 1, tzinfo=UTC)
    held = ledger.reserve("key_c", A, "total", A, now=t0)
    assert isinstance(held, Reservation)  # ...and its replica dies: never settled
    assert isinstance(ledger.reserve("key_c", A, "total", A, now=t0 + timedelta(seconds=10)), Usage)
    later = t0 + timedelta(seconds=ledger.hold_s + 1)
    again = ledger.reserve("key_c", A, "total", A, now=later)
    assert isinstance(again, Reservation)
    ledger.settle(held, 0)  # a late settle of the released hold releases nothing twice
    assert ledger.usage("key_c", "total", now=later).reserved_micros == A


def test_period_bounds() -> None:
    now = datetime(2026, 12, 15, 12, tzinfo=UTC)
    assert period_bounds("day", now) == ("2026-12-15", datetime(2026, 12, 16, tzinfo=UTC))
    assert period_bounds("month", now) == ("2026-12-01", datetime(2027, 1, 1, tzinfo=UTC))
    assert period_bounds("total", now) == ("total", None)
