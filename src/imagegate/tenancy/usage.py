"""The figures of the usage page: daily spend per key, model or provider, the biggest requests, remaining budgets.

All from the request log and the budget ledgers; ``key_id`` narrows everything to one key. Blocking: call it off the
event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from imagegate.store.db import Database
from imagegate.store.models import RequestRow
from imagegate.tenancy.budgets import BudgetLedger
from imagegate.tenancy.keystore import KeyStore
from imagegate.tenancy.policy import MICROS
from imagegate.tenancy.spend import day_column, group_column


@dataclass(frozen=True, slots=True)
class DailySpend:
    days: list[str]  # every day of the window, oldest first
    groups: list[str]  # by total spend, largest first
    usd: dict[str, list[float]]  # group -> spend per day


def daily_spend(db: Database, by: str, start: datetime, end: datetime, key_id: str | None = None) -> DailySpend:
    day = day_column(db, RequestRow.created_at).label("day")
    group = group_column(db, by, RequestRow).label("grp")
    stmt = (
        select(day, group, func.coalesce(func.sum(RequestRow.cost_micros), 0))
        .where(RequestRow.created_at >= start, RequestRow.created_at < end, RequestRow.dry_run.is_(False))
        .group_by(day, group)
    )
    if key_id is not None:
        stmt = stmt.where(RequestRow.key_id == key_id)
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    days = []
    d = start.date()
    while d < end.date() or (d == end.date() and end.time() != datetime.min.time()):
        days.append(d.isoformat())
        d += timedelta(days=1)
    index = {name: i for i, name in enumerate(days)}
    usd: dict[str, list[float]] = {}
    for day_value, grp, micros in rows:
        name = str(grp) if grp is not None else "(none)"
        series = usd.setdefault(name, [0.0] * len(days))
        if str(day_value) in index:
            series[index[str(day_value)]] += int(micros) / MICROS
    groups = sorted(usd, key=lambda g: (-sum(usd[g]), g))
    return DailySpend(days, groups, usd)


def biggest_requests(
    db: Database, start: datetime, end: datetime, key_id: str | None = None, limit: int = 10
) -> list[dict[str, Any]]:
    stmt = (
        select(
            RequestRow.id, RequestRow.created_at, RequestRow.key_id, RequestRow.model_id, RequestRow.provider,
            RequestRow.image_count, RequestRow.cost_micros,
        )
        .where(RequestRow.created_at >= start, RequestRow.created_at < end, RequestRow.cost_micros > 0)
        .order_by(RequestRow.cost_micros.desc(), RequestRow.created_at.desc())
        .limit(limit)
    )  # fmt: skip
    if key_id is not None:
        stmt = stmt.where(RequestRow.key_id == key_id)
    with db.session() as s:
        return [
            {"id": r[0], "created_at": r[1], "key_id": r[2], "model": r[3], "provider": r[4], "images": r[5],
             "cost_usd": r[6] / MICROS}
            for r in s.execute(stmt)
        ]  # fmt: skip


def remaining_budgets(keys: KeyStore, ledger: BudgetLedger, key_id: str | None = None) -> list[dict[str, Any]]:
    """Every live key with a budget (or only ``key_id``), with what it has spent, holds and has left."""
    out = []
    for view in keys.list():
        if view["revoked_at"] or not view["budget"] or (key_id is not None and view["id"] != key_id):
            continue
        budget = view["budget"]
        usage = ledger.usage(view["id"], budget["period"])
        budget_micros = round(budget["usd"] * MICROS)
        out.append(
            {
                "id": view["id"],
                "name": view["name"],
                "period": budget["period"],
                "budget_usd": budget["usd"],
                "spent_usd": usage.spent_micros / MICROS,
                "reserved_usd": usage.reserved_micros / MICROS,
                "remaining_usd": max(0, budget_micros - usage.spent_micros - usage.reserved_micros) / MICROS,
                "used_fraction": min(1.0, (usage.spent_micros + usage.reserved_micros) / budget_micros)
                if budget_micros
                else 1.0,
                "period_end": usage.period_end,
            }
        )
    return sorted(out, key=lambda b: b["remaining_usd"])
