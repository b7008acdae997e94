"""Spend reports from the request log: by key, model, provider or day, for all keys or one.

``spent_usd`` is what the gateway charged (the ``requests`` rows' cost, dry runs excluded). Cancelled hedges that a
provider may still bill are shown apart as ``possibly_billed_usd``, summed from the attempts flagged
``possibly_billed``. Blocking: call it off the event loop.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select

from imagegate.core.errors import InvalidRequest
from imagegate.store.db import Database
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.tenancy.policy import MICROS

GROUPS = ("key", "model", "provider", "day")
DEFAULT_WINDOW = timedelta(days=30)


def parse_window(start: str | None, end: str | None, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``from``/``to`` as ISO dates or date-times (UTC when naive); default the last 30 days. ``to`` of a bare date
    includes that whole day."""

    def one(value: str, param: str, is_end: bool) -> datetime:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"Invalid '{param}': expected an ISO date or date-time.", param=param) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if is_end and len(value) == 10:
            parsed += timedelta(days=1)
        return parsed.astimezone(UTC)

    now = now or datetime.now(UTC)
    hi = one(end, "to", True) if end else now + timedelta(seconds=1)
    lo = one(start, "from", False) if start else hi - DEFAULT_WINDOW
    if lo >= hi:
        raise InvalidRequest("'from' must be before 'to'.", param="from")
    return lo, hi


def day_column(db: Database, column: Any) -> ColumnElement[str]:
    if db.dialect == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM-DD")
    return func.substr(column, 1, 10)  # SQLite keeps UTC text, 'YYYY-MM-DD HH:MM:SS'


def group_column(db: Database, group_by: str, table: Any) -> Any:
    if group_by == "day":
        return day_column(db, table.created_at)
    if table is RequestRow:
        return {"key": RequestRow.key_id, "model": RequestRow.model_id, "provider": RequestRow.provider}[group_by]
    return {"key": RequestRow.key_id, "model": AttemptRow.model, "provider": AttemptRow.provider}[group_by]


def spend_report(
    db: Database, group_by: str, start: datetime, end: datetime, key_id: str | None = None
) -> dict[str, Any]:
    if group_by not in GROUPS:
        raise InvalidRequest(f"Invalid 'group_by': expected one of {', '.join(GROUPS)}.", param="group_by")
    col = group_column(db, group_by, RequestRow).label("grp")
    stmt = (
        select(col, func.count(), func.coalesce(func.sum(RequestRow.cost_micros), 0),
               func.coalesce(func.sum(RequestRow.image_count), 0))
        .where(RequestRow.created_at >= start, RequestRow.created_at < end, RequestRow.dry_run.is_(False))
        .group_by(col)
    )  # fmt: skip
    if key_id is not None:
        stmt = stmt.where(RequestRow.key_id == key_id)
    with db.engine.connect() as conn:
        rows = conn.execute(stmt).all()
        maybe = _possibly_billed(db, conn, group_by, start, end, key_id)
    data = [
        {
            "group": grp,
            "requests": int(count),
            "images": int(images),
            "spent_usd": round(int(cost) / MICROS, 6),
            "possibly_billed_usd": round(maybe.get(grp, 0) / MICROS, 6),
        }
        for grp, count, cost, images in rows
    ]
    data.sort(key=lambda d: (-d["spent_usd"], str(d["group"])) if group_by != "day" else str(d["group"]))
    total = sum(int(r[2]) for r in rows)
    return {
        "object": "spend",
        "group_by": group_by,
        "from": start.isoformat().replace("+00:00", "Z"),
        "to": end.isoformat().replace("+00:00", "Z"),
        "currency": "USD",
        "total_usd": round(total / MICROS, 6),
        "possibly_billed_usd": round(sum(maybe.values()) / MICROS, 6),
        "data": data,
    }


def _possibly_billed(db, conn, group_by, start, end, key_id) -> dict[Any, int]:  # type: ignore[no-untyped-def]
    flag = AttemptRow.possibly_billed
    col = group_column(db, group_by, AttemptRow).label("grp")
    stmt = (
        select(col, func.coalesce(func.sum(AttemptRow.cost_micros), 0))
        .where(flag.is_(True), AttemptRow.created_at >= start, AttemptRow.created_at < end)
        .group_by(col)
    )
    if group_by == "key" or key_id is not None:
        stmt = stmt.join(RequestRow, RequestRow.id == AttemptRow.request_id)
    if key_id is not None:
        stmt = stmt.where(RequestRow.key_id == key_id)
    return {grp: int(total) for grp, total in conn.execute(stmt)}
