"""The JSON the API shows for a job (``object: "image.job"``)."""

from __future__ import annotations

from typing import Any

import orjson

from imagegate.jobs.deliveries import delivery_json
from imagegate.store.job_models import JobRow, WebhookDeliveryRow


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def job_json(row: JobRow, deliveries: list[WebhookDeliveryRow] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": row.id,
        "object": "image.job",
        "status": row.status,
        "created_at": _ts(row.created_at),
        "started_at": _ts(row.started_at),
        "finished_at": _ts(row.finished_at),
        "model": row.model,
        "operation": row.operation,
        "runs": row.runs,
        "webhook_url": row.webhook_url,
    }
    if row.status == "succeeded" and row.result is not None:
        out["result"] = orjson.loads(row.result)
        out["cost_micros"] = row.cost_micros
    if row.error:
        out["error"] = orjson.loads(row.error)
    if deliveries:
        out["webhook_deliveries"] = [delivery_json(d) for d in deliveries]
    return out
