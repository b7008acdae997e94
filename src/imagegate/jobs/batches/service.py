"""``Batches``: create (validate + estimate), show, cancel, and run batches for one process."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from imagegate.api.parsing import Limits
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.jobs.batches.eligible import PROVIDER
from imagegate.jobs.batches.files import FileStore
from imagegate.jobs.batches.lines import ENDPOINTS, validate_file
from imagegate.jobs.batches.provider import ProviderBatchRun
from imagegate.jobs.batches.run import BatchRun
from imagegate.jobs.batches.store import BatchStore
from imagegate.jobs.execute import Executor
from imagegate.providers.gemini_batch import GeminiBatchAPI
from imagegate.settings import ProviderSettings
from imagegate.store.db import Database
from imagegate.store.job_models import BatchRow


@dataclass(slots=True)
class BatchConfig:
    concurrency: int = 8
    lease_s: float = 60.0
    max_lines: int = 50_000
    max_image_pixels: int = 64_000_000
    gemini: ProviderSettings | None = None  # set: batches that fit run in the Gemini API's batch mode
    poll_s: float = 30.0  # provider batch polling interval

    @classmethod
    def from_settings(cls, settings: Any) -> BatchConfig:
        gemini = settings.providers.get("gemini")
        return cls(
            concurrency=settings.batch_concurrency,
            lease_s=settings.jobs_lease_s,
            max_lines=settings.batch_max_lines,
            max_image_pixels=settings.max_image_pixels,
            gemini=gemini if settings.batch_provider_mode and gemini is not None and gemini.active else None,
            poll_s=settings.batch_poll_s,
        )


def _ts(value: Any) -> int | None:
    return int(value.timestamp()) if value is not None else None


def batch_json(row: BatchRow) -> dict[str, Any]:
    errors = orjson.loads(row.errors) if row.errors else None
    return {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "errors": {"object": "list", "data": errors} if errors else None,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "output_file_id": row.output_file_id,
        "error_file_id": row.error_file_id,
        "created_at": _ts(row.created_at),
        "in_progress_at": _ts(row.in_progress_at),
        "expires_at": _ts(row.expires_at),
        "finalizing_at": _ts(row.finalizing_at),
        "completed_at": _ts(row.completed_at),
        "failed_at": _ts(row.failed_at),
        "expired_at": None,
        "cancelling_at": _ts(row.cancelling_at),
        "cancelled_at": _ts(row.cancelled_at),
        "request_counts": {"total": row.total, "completed": row.completed, "failed": row.failed},
        "metadata": orjson.loads(row.meta) if row.meta else None,
        "estimate": {
            "total_cost_micros": row.estimate_micros,
            "currency": "USD",
            "priced_as": "batch" if row.mode != "emulated" else "interactive",
        },
        "mode": row.mode,
        "cost_micros": row.cost_micros,
    }


class Batches:
    def __init__(self, db: Database, files_dir: Path, executor: Executor, limits: Limits, config: BatchConfig) -> None:
        self.files = FileStore(db, files_dir)
        self.store = BatchStore(db)
        self.executor = executor
        self.limits = limits
        self.config = config

    async def create(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str) or endpoint not in ENDPOINTS:
            raise InvalidRequest(
                f"Invalid 'endpoint': {endpoint!r}. Supported values are: {', '.join(ENDPOINTS)}.", param="endpoint"
            )
        window = body.get("completion_window")
        if window != "24h":
            raise InvalidRequest("Invalid 'completion_window': only '24h' is supported.", param="completion_window")
        metadata = body.get("metadata")
        if metadata is not None and (
            not isinstance(metadata, dict)
            or len(metadata) > 16
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())
        ):
            raise InvalidRequest("'metadata' must be at most 16 string keys with string values.", param="metadata")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str):
            raise InvalidRequest("Missing required parameter: 'input_file_id'.", param="input_file_id")
        row = await asyncio.to_thread(self.files.get, file_id, owner)
        if row is None:
            raise GatewayError(f"No such File object: {file_id}", status=404, code="FILE_NOT_FOUND")
        if row.purpose != "batch":
            raise InvalidRequest(f"File {file_id} was not uploaded with purpose 'batch'.", param="input_file_id")
        check = await asyncio.to_thread(
            validate_file,
            self.files.path(row),
            endpoint,
            self.executor.gateway,
            self.limits,
            self.config.max_image_pixels,
            self.config.max_lines,
            self.config.gemini is not None,
        )
        provider = check.provider_mode and not check.errors
        tenancy = self.executor.tenancy
        if tenancy is not None and not check.errors:  # the whole estimate must fit what the key's budget has left
            estimate = check.batch_estimate_micros if provider else check.estimate_micros
            await tenancy.check_budget(await tenancy.principal(owner), estimate, "this batch")
        batch = await asyncio.to_thread(
            self.store.create,
            owner,
            endpoint,
            file_id,
            window,
            metadata,
            check.total,
            check.batch_estimate_micros if provider else check.estimate_micros,
            check.errors,
            PROVIDER if provider else "emulated",
        )
        return batch_json(batch)

    async def run_next(self, runner: str) -> bool:
        """Claim and run one batch to its end; ``False`` when none was waiting."""
        row = await asyncio.to_thread(self.store.claim, runner, self.config.lease_s)
        if row is None:
            return False
        if row.mode == PROVIDER and self.config.gemini is not None:
            api = GeminiBatchAPI(self.config.gemini)
            await ProviderBatchRun(self, row, runner, api, self.config.poll_s).run()
        else:
            await BatchRun(self, row, runner).run()
        return True
