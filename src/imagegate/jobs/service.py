"""``AsyncWork``: record / replay / mock and jobs for one gateway process, built from settings."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imagegate.api.parsing import Limits
from imagegate.core.types import ImageRequest
from imagegate.jobs import codec
from imagegate.jobs.batches.service import BatchConfig, Batches
from imagegate.jobs.deliveries import DeliveryStore
from imagegate.jobs.execute import Executor
from imagegate.jobs.recordings import RecordingStore
from imagegate.jobs.replay import MATCH_HEADER, MODE_HEADER, DefaultMode, ReplayOptions, parse_options
from imagegate.jobs.runner import JobRunner
from imagegate.jobs.store import JobStore
from imagegate.jobs.views import job_json
from imagegate.jobs.webhook_secrets import SecretStore
from imagegate.jobs.webhooks import validate_url
from imagegate.pipeline import Gateway
from imagegate.store.db import Database

if TYPE_CHECKING:
    from imagegate.tenancy.guard import Tenancy

LIVE_MODES = ("off", "record", "replay-or-live", "replay-or-record")  # modes that may call a provider


@dataclass(slots=True)
class JobsConfig:
    in_process: bool = True
    concurrency: int = 4
    lease_s: float = 60.0
    poll_s: float = 1.0
    max_runs: int = 3
    allow_private: bool = False
    retry_delays_s: tuple[float, ...] = (5.0, 15.0, 45.0)
    webhook_timeout_s: float = 30.0

    @classmethod
    def from_settings(cls, settings: Any) -> JobsConfig:
        return cls(
            in_process=settings.jobs_in_process,
            concurrency=settings.jobs_concurrency,
            lease_s=settings.jobs_lease_s,
            poll_s=settings.jobs_poll_s,
            max_runs=settings.jobs_max_runs,
            allow_private=settings.webhooks_allow_private,
            retry_delays_s=tuple(settings.webhook_retry_delays_s),
            webhook_timeout_s=settings.webhook_timeout_s,
        )


class AsyncWork:
    def __init__(
        self,
        db: Database,
        gateway: Gateway,
        config: JobsConfig,
        *,
        replay_default: str = "off",
        default_mode: DefaultMode | None = None,
        batches: tuple[Path, Limits, BatchConfig] | None = None,
        tenancy: Tenancy | None = None,
    ) -> None:
        self.config = config
        self.recordings = RecordingStore(db)
        self.executor = Executor(gateway, self.recordings, tenancy)
        self.jobs = JobStore(db)
        self.deliveries = DeliveryStore(db)
        self.secrets = SecretStore(db)
        self.replay_default = replay_default
        # hook for per-key defaults (API keys work): key id -> mode, or None for the gateway's default
        self.default_mode: DefaultMode = default_mode or (lambda _key_id: None)
        files_dir, limits, batch_config = batches or (Path("./data/files"), Limits(), BatchConfig())
        self.batches = Batches(db, files_dir, self.executor, limits, batch_config)
        self.runner = JobRunner(self)

    async def start(self, run_jobs: bool | None = None) -> None:
        if self.config.in_process if run_jobs is None else run_jobs:
            self.runner.start()

    async def aclose(self) -> None:
        await self.runner.aclose()

    def options(self, headers: Any, key_id: str | None) -> ReplayOptions:
        default = self.default_mode(key_id) or self.replay_default
        return parse_options(headers.get(MODE_HEADER), headers.get(MATCH_HEADER), default)

    async def submit(self, request: ImageRequest, opts: ReplayOptions, webhook_url: str | None) -> dict[str, Any]:
        """Store a new job and wake the runner; the job's JSON (with a new ``webhook_secret``, shown this once)."""
        if webhook_url is not None:
            webhook_url = validate_url(webhook_url, self.config.allow_private)
        if opts.mode in LIVE_MODES:
            self.executor.gateway.plan(request)  # unknown model, unsupported size...: a 4xx now, not a failed job
        owner = request.key_id or ""
        secret = await asyncio.to_thread(self.secrets.ensure, owner) if webhook_url else None
        row = await asyncio.to_thread(
            self.jobs.create,
            owner,
            request.operation,
            request.model,
            codec.dump_request(request),
            opts.encode() if opts.mode != "off" else None,
            webhook_url,
        )
        self.runner.poke()
        out = job_json(row)
        if secret:
            out["webhook_secret"] = secret
        return out

    async def job(self, job_id: str, owner: str) -> dict[str, Any] | None:
        found = await asyncio.to_thread(self.jobs.get_with_deliveries, job_id, owner)
        return None if found is None else job_json(*found)
