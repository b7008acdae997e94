"""Budgets: reserve a request's worst-case cost before it runs, settle at its actual cost, release on failure.

One ledger row per key and period (``budget_ledgers``: spent and reserved micros). A reservation is one conditional
``UPDATE ... SET reserved = reserved + :amount WHERE spent + reserved + :amount <= :budget``: PostgreSQL re-checks the
condition under the row lock it takes, SQLite runs one writer at a time, so two replicas can never both take the last
of a budget, and the settled spend stays within it whenever requests cost no more than their estimate. Each hold is
also a row (``budget_reservations``) with an expiry, so a replica that dies mid-request leaves nothing reserved for
ever: the next reservation or balance of that key releases expired holds. Blocking: call it off the event loop.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from imagegate.store.db import Database, utcnow
from imagegate.store.tenancy_rows import BudgetLedgerRow, BudgetReservationRow


def period_bounds(period: str, now: datetime) -> tuple[str, datetime | None]:
    """``(ledger key, end of the period)`` for ``day`` and ``month`` (UTC calendar), or ``("total", None)``."""
    now = now.astimezone(UTC)
    if period == "day":
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.date().isoformat(), start + timedelta(days=1)
    if period == "month":
        start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return start.date().isoformat(), end
    return "total", None


@dataclass(frozen=True, slots=True)
class Reservation:
    id: str
    key_id: str
    period_start: str
    amount_micros: int


@dataclass(frozen=True, slots=True)
class Usage:
    spent_micros: int
    reserved_micros: int
    period_end: datetime | None


class BudgetLedger:
    def __init__(self, db: Database, hold_s: float = 600.0) -> None:
        self.db = db
        self.hold_s = hold_s  # a reservation older than this belongs to a request that cannot still be running

    def _ensure_ledger(self, s: Session, key_id: str, period_start: str) -> None:
        insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        s.execute(
            insert(BudgetLedgerRow)
            .values(key_id=key_id, period_start=period_start, spent_micros=0, reserved_micros=0)
            .on_conflict_do_nothing()
        )

    def _release_expired(self, s: Session, key_id: str, now: datetime) -> None:
        stale = s.execute(
            select(
                BudgetReservationRow.id, BudgetReservationRow.period_start, BudgetReservationRow.amount_micros
            ).where(BudgetReservationRow.key_id == key_id, BudgetReservationRow.expires_at <= now)
        ).all()
        for rid, period_start, amount in stale:
            self._drop_hold(s, Reservation(rid, key_id, period_start, amount), spent=0)

    def _drop_hold(self, s: Session, r: Reservation, spent: int) -> None:
        held = s.execute(delete(BudgetReservationRow).where(BudgetReservationRow.id == r.id)).rowcount  # type: ignore[attr-defined]
        release = r.amount_micros if held else 0  # an expired hold was already released by someone else
        s.execute(
            update(BudgetLedgerRow)
            .where(BudgetLedgerRow.key_id == r.key_id, BudgetLedgerRow.period_start == r.period_start)
            .values(
                reserved_micros=BudgetLedgerRow.reserved_micros - release,
                spent_micros=BudgetLedgerRow.spent_micros + spent,
            )
        )

    def reserve(
        self, key_id: str, budget_micros: int, period: str, amount_micros: int, now: datetime | None = None
    ) -> Reservation | Usage:
        """Hold ``amount_micros``; when it does not fit, the ledger's ``Usage`` (nothing held)."""
        now = now or utcnow()
        period_start, period_end = period_bounds(period, now)
        with self.db.session.begin() as s:
            self._ensure_ledger(s, key_id, period_start)  # a write first: SQLite takes its write lock here
            self._release_expired(s, key_id, now)
            took = s.execute(
                update(BudgetLedgerRow)
                .where(
                    BudgetLedgerRow.key_id == key_id,
                    BudgetLedgerRow.period_start == period_start,
                    BudgetLedgerRow.spent_micros + BudgetLedgerRow.reserved_micros + amount_micros <= budget_micros,
                )
                .values(reserved_micros=BudgetLedgerRow.reserved_micros + amount_micros)
            ).rowcount  # type: ignore[attr-defined]
            if not took:
                row = s.get(BudgetLedgerRow, (key_id, period_start))
                assert row is not None
                return Usage(row.spent_micros, row.reserved_micros, period_end)
            r = Reservation("res_" + secrets.token_hex(10), key_id, period_start, amount_micros)
            s.add(
                BudgetReservationRow(
                    id=r.id,
                    key_id=key_id,
                    period_start=period_start,
                    amount_micros=amount_micros,
                    expires_at=now + timedelta(seconds=self.hold_s),
                )
            )
            return r

    def settle(self, r: Reservation, cost_micros: int) -> None:
        """The request ended: its actual cost becomes spend, its hold goes."""
        with self.db.session.begin() as s:
            self._drop_hold(s, r, spent=max(0, cost_micros))

    def charge(self, key_id: str, period: str, cost_micros: int, now: datetime | None = None) -> None:
        """Spend that ran without a hold (a provider batch's line, priced when its result arrives)."""
        period_start, _ = period_bounds(period, now or utcnow())
        with self.db.session.begin() as s:
            self._ensure_ledger(s, key_id, period_start)
            s.execute(
                update(BudgetLedgerRow)
                .where(BudgetLedgerRow.key_id == key_id, BudgetLedgerRow.period_start == period_start)
                .values(spent_micros=BudgetLedgerRow.spent_micros + max(0, cost_micros))
            )

    def release(self, r: Reservation) -> None:
        """The request failed before anything billable: drop the hold."""
        self.settle(r, 0)

    def usage(self, key_id: str, period: str, now: datetime | None = None) -> Usage:
        now = now or utcnow()
        period_start, period_end = period_bounds(period, now)
        with self.db.session.begin() as s:
            self._release_expired(s, key_id, now)
            row = s.get(BudgetLedgerRow, (key_id, period_start))
            if row is None:
                return Usage(0, 0, period_end)
            return Usage(row.spent_micros, row.reserved_micros, period_end)
