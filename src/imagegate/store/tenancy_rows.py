"""Tables of the tenancy package (``imagegate.tenancy``): a key's policy, budget ledgers, reservations, and the
version stamp that tells every replica when any key changed.

Registered on the store's ``Base`` (imported at the end of ``store/models.py``); created by migration
``0003_tenancy``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Integer, String, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from imagegate.store.models import Base, UTCDateTime


class KeyPolicyRow(Base):
    """What an API key may do: models, routing defaults, budget, rate limits, metadata (one row per key)."""

    __tablename__ = "key_policies"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # api_keys.id
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    models: Mapped[list[str]] = mapped_column(JSON)  # catalog ids, or ["*"]
    routing: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    budget_micros: Mapped[int | None] = mapped_column(BigInteger)
    budget_period: Mapped[str | None] = mapped_column(String(8))  # day | month | total
    budget_models: Mapped[list[str] | None] = mapped_column(JSON)
    requests_per_minute: Mapped[int | None] = mapped_column(Integer)
    images_per_minute: Mapped[int | None] = mapped_column(Integer)
    key_metadata: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BudgetLedgerRow(Base):
    """Spent and reserved micros of one key in one budget period (``period_start`` ``2026-12-01`` or ``total``)."""

    __tablename__ = "budget_ledgers"

    key_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    period_start: Mapped[str] = mapped_column(String(16), primary_key=True)
    spent_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class BudgetReservationRow(Base):
    """One request's hold on a ledger until it settles; an expired hold (its replica died) is released lazily."""

    __tablename__ = "budget_reservations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), index=True)
    period_start: Mapped[str] = mapped_column(String(16))
    amount_micros: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class KeyVersionRow(Base):
    """A single row whose ``version`` goes up with every key change: replicas poll it to drop cached keys."""

    __tablename__ = "key_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


def bump_key_version(session: Session) -> None:
    """Mark every cached key stale, in the caller's transaction (any create, change or revocation of a key)."""
    updated = session.execute(
        update(KeyVersionRow).where(KeyVersionRow.id == 1).values(version=KeyVersionRow.version + 1)
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        session.add(KeyVersionRow(id=1, version=1))
