"""The object graph of one gateway process, built from settings by ``build_services``.

No module-level state: tests build as many independent gateways as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from imagegate.api.auth import Authenticator
from imagegate.api.files import extension
from imagegate.api.parsing import Limits
from imagegate.arena.service import ArenaService
from imagegate.catalog.loader import Catalog, load_catalog
from imagegate.core.redaction import register_secrets
from imagegate.jobs.batches.service import BatchConfig
from imagegate.jobs.service import AsyncWork, JobsConfig
from imagegate.media.decode import ImageDecoder
from imagegate.pipeline import Gateway
from imagegate.providers.base import Provider
from imagegate.providers.registry import build_providers
from imagegate.router import MemoryRouterState, Router, RouterConfig
from imagegate.settings import Settings
from imagegate.store.blobs import BlobStore, LocalBlobStore
from imagegate.store.db import Database, run_migrations
from imagegate.telemetry.metrics import Metrics
from imagegate.telemetry.recorder import RequestRecorder
from imagegate.tenancy import Tenancy, build_tenancy
from imagegate.web.perf import PagePerformance
from imagegate.web.render import PageRenderer

log = logging.getLogger("imagegate")


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    db: Database
    blobs: BlobStore
    recorder: RequestRecorder
    providers: dict[str, Provider]
    router: Router
    gateway: Gateway
    auth: Authenticator
    limits: Limits
    metrics: Metrics
    tenancy: Tenancy
    pages: PageRenderer
    arena: ArenaService | None = None
    banner: list[str] = field(default_factory=list)
    perf: PagePerformance | None = None  # the web pages' performance rollup (issue 10)
    work: AsyncWork | None = None  # record / replay / mock and jobs (imagegate/jobs)
    decoder: ImageDecoder = field(default_factory=ImageDecoder)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def start(self) -> None:
        await self.recorder.start()
        if self.arena is not None:
            await self.arena.start()
        self._tasks.append(asyncio.create_task(self._sweep_blobs(), name="imagegate-blob-sweeper"))
        if self.perf is not None:
            self._tasks.append(asyncio.create_task(self.perf.run(), name="imagegate-perf-rollup"))

    async def _sweep_blobs(self) -> None:
        while True:
            try:
                removed = await self.blobs.delete_expired()
                if removed:
                    log.info("deleted %d expired image(s)", removed)
            except Exception as exc:  # keep sweeping; report without secrets
                log.warning("expired-image sweep failed: %s", type(exc).__name__)
            await asyncio.sleep(60)

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.work is not None:
            await self.work.aclose()
        if self.arena is not None:
            await self.arena.aclose()
        await self.recorder.aclose()
        for provider in self.providers.values():
            with contextlib.suppress(Exception):
                await provider.aclose()
        await self.tenancy.aclose()
        close_state = getattr(self.router.state, "aclose", None)
        if close_state is not None:
            await close_state()
        self.db.dispose()


def _router_state(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.redis_url:
        from imagegate.router import RedisRouterState

        return RedisRouterState.from_url(settings.redis_url, prefix=settings.redis_prefix)
    return MemoryRouterState()


def build_blob_store(settings: Settings, db: Database) -> BlobStore:
    """The data directory by default; S3-compatible storage when ``blob_url`` is ``s3://bucket/prefix``."""
    if not settings.blob_url:
        return LocalBlobStore(settings.blob_dir, db)
    from imagegate.store.s3_blobs import S3BlobStore

    return S3BlobStore(
        settings.blob_url,
        db,
        endpoint=settings.blob_endpoint,
        region=settings.blob_region,
        access_key_id=settings.blob_access_key_id,
        secret_access_key=settings.blob_secret_access_key,
        presign=settings.blob_presign,
    )


def configured_secrets(settings: Settings) -> list[str]:
    """Every credential the settings hold, for value-based redaction: master and API keys, provider keys, and the
    Vertex service account's private key (read from its file)."""
    values = [settings.master_key or "", *settings.api_keys]
    for ps in settings.providers.values():
        values.append(ps.api_key or "")
        if ps.credentials_file:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                info = json.loads(Path(ps.credentials_file).read_text())
                values += [str(info.get("private_key") or ""), str(info.get("private_key_id") or "")]
    return [v for v in values if v]


async def build_services(settings: Settings) -> Services:
    register_secrets(configured_secrets(settings))
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog(settings.catalog_dirs)
    if settings.local:
        from imagegate.providers.local.catalog import price_local_offers
        from imagegate.providers.local.config import parse_local_config

        catalog = price_local_offers(catalog, parse_local_config(settings.local))
    await asyncio.to_thread(run_migrations, settings.db_url)
    db = Database(settings.db_url)
    blobs = build_blob_store(settings, db)
    recorder = RequestRecorder(db)
    providers, banner = build_providers(settings)
    router = Router(_router_state(settings), RouterConfig.from_dict(settings.routing))
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"

    def url_for(token: str, mime_type: str) -> str:
        return f"{base}/files/{token}.{extension(mime_type)}"

    placeholder_only = list(providers) == ["placeholder"]
    metrics = Metrics()
    gateway = Gateway(
        catalog=catalog,
        providers=providers,
        router=router,
        blobs=blobs,
        recorder=recorder,
        url_for=url_for,
        url_ttl_s=settings.url_ttl_s,
        request_timeout_s=settings.request_timeout_s,
        log_prompts=settings.log_prompts,
        placeholder_only=placeholder_only,
        metrics=metrics,
    )
    has_db_keys = await asyncio.to_thread(db.has_api_keys)
    tenancy = build_tenancy(settings, db, gateway)
    # database keys are looked up at every request, fresh across replicas (tenancy/directory.py): no restart
    auth = Authenticator(settings.master_key, settings.api_keys, tenancy.directory, has_db_keys=has_db_keys)
    return Services(
        settings=settings,
        catalog=catalog,
        db=db,
        blobs=blobs,
        recorder=recorder,
        providers=providers,
        router=router,
        gateway=gateway,
        auth=auth,
        limits=Limits(max_prompt_chars=settings.max_prompt_chars, max_n=settings.max_n),
        metrics=metrics,
        tenancy=tenancy,
        pages=PageRenderer(base),
        arena=ArenaService(settings, db, catalog, gateway, blobs, base),
        banner=banner,
        perf=PagePerformance(db, settings.stats_window_days, settings.perf_refresh_s),
        work=AsyncWork(
            db,
            gateway,
            JobsConfig.from_settings(settings),
            replay_default=settings.replay_default,
            batches=(
                settings.data_dir / "files",
                Limits(settings.max_prompt_chars, settings.max_n),
                BatchConfig.from_settings(settings),
            ),
            tenancy=tenancy,  # jobs, record mode and batch lines run under the key's policy
        ),
        decoder=ImageDecoder(
            max_image_pixels=settings.max_image_pixels,
            max_request_pixels=settings.max_request_pixels,
            max_concurrent=settings.decode_concurrency,
        ),
    )
