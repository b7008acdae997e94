"""Webhook deliveries: stored before they are sent, claimed with a lease like jobs, retried on a schedule.

A delivery is tried once, then again after each delay of ``retry_delays_s`` (default 5 s, 15 s, 45 s); after the
last it is ``failed`` and the job shows it. Each try connects to the address the URL resolved to (pinned, so a DNS
answer cannot change between the check and the connection) with a per-try timeout.
"""

from __future__ import annotations

import secrets
import socket
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import func, select, update

from imagegate.jobs.webhooks import Target, UnsafeWebhook, resolve, signed_headers
from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import WebhookDeliveryRow


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


class DeliveryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, job_id: str, owner: str, event: str, url: str, payload: bytes, msg_id: str) -> None:
        now = utcnow()
        row = WebhookDeliveryRow(
            id=msg_id,
            job_id=job_id,
            owner=owner,
            event=event,
            url=url,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        with self.db.session.begin() as s:
            s.add(row)

    def claim_due(self, lease_s: float, limit: int) -> list[WebhookDeliveryRow]:
        now = utcnow()
        with self.db.engine.begin() as conn:  # deliveries whose sender died mid-try are due again
            conn.execute(
                update(WebhookDeliveryRow)
                .where(WebhookDeliveryRow.status == "delivering", WebhookDeliveryRow.lease_until < now)
                .values(status="pending", lease_until=None)
            )
        with self.db.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    select(WebhookDeliveryRow.id)
                    .where(WebhookDeliveryRow.status == "pending", WebhookDeliveryRow.next_attempt_at <= now)
                    .order_by(WebhookDeliveryRow.next_attempt_at)
                    .limit(limit)
                )
            ]
        claimed = []
        for msg_id in ids:
            with self.db.engine.begin() as conn:
                done = conn.execute(
                    update(WebhookDeliveryRow)
                    .where(WebhookDeliveryRow.id == msg_id, WebhookDeliveryRow.status == "pending")
                    .values(status="delivering", lease_until=now + timedelta(seconds=lease_s))
                ).rowcount
            if done:
                with self.db.session() as s:
                    row = s.get(WebhookDeliveryRow, msg_id)
                    if row is not None:
                        claimed.append(row)
        return claimed

    def next_due(self) -> datetime | None:
        with self.db.engine.connect() as conn:
            return conn.execute(
                select(func.min(WebhookDeliveryRow.next_attempt_at)).where(WebhookDeliveryRow.status == "pending")
            ).scalar_one()

    def settle(self, msg_id: str, ok: bool, status: int | None, error: str | None, delays: Sequence[float]) -> str:
        """Record one try; returns the delivery's new status (``delivered``, ``pending`` again, or ``failed``)."""
        now = utcnow()
        with self.db.session.begin() as s:
            row = s.get(WebhookDeliveryRow, msg_id)
            assert row is not None
            row.attempts += 1
            row.last_status, row.last_error, row.lease_until = status, error, None
            if ok:
                row.status, row.delivered_at = "delivered", now
            elif row.attempts > len(delays):
                row.status = "failed"
            else:
                row.status = "pending"
                row.next_attempt_at = now + timedelta(seconds=delays[row.attempts - 1])
            return row.status


class PinnedResolver(AbstractResolver):
    """Answers every look-up with the one address the webhook URL was checked against."""

    def __init__(self, target: Target) -> None:
        self.target = target

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        fam = socket.AF_INET6 if ":" in self.target.address else socket.AF_INET
        return [
            ResolveResult(
                hostname=host, host=self.target.address, port=port, family=fam, proto=0, flags=socket.AI_NUMERICHOST
            )
        ]

    async def close(self) -> None:
        return None


async def send(
    row: WebhookDeliveryRow, secret: str, *, allow_private: bool, timeout_s: float
) -> tuple[bool, int | None, str | None]:
    """One try: ``(delivered, HTTP status, error)``. A 2xx answer is a delivery; redirects are not followed."""
    try:
        target = await resolve(row.url, allow_private)
    except UnsafeWebhook as exc:
        return False, None, str(exc)
    headers = signed_headers(secret, row.id, int(time.time()), row.payload)
    connector = aiohttp.TCPConnector(resolver=PinnedResolver(target), force_close=True)
    try:
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.post(
                row.url,
                data=row.payload,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
            ) as resp,
        ):
            await resp.read()
            ok = 200 <= resp.status < 300
            return ok, resp.status, None if ok else f"the receiver answered HTTP {resp.status}"
    except TimeoutError:
        return False, None, f"no answer within {timeout_s:g} s"
    except aiohttp.ClientError as exc:
        return False, None, f"connection failed: {type(exc).__name__}"


def delivery_json(row: WebhookDeliveryRow) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "event": row.event,
        "url": row.url,
        "status": row.status,
        "attempts": row.attempts,
    }
    if row.last_status is not None:
        out["last_status"] = row.last_status
    if row.last_error:
        out["last_error"] = row.last_error
    if row.delivered_at is not None:
        out["delivered_at"] = int(row.delivered_at.timestamp())
    return out
