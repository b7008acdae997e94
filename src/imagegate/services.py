"""The object graph of one gateway process, built from settings by ``build_services``.

No module-level state: tests build as many independent gateways as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from imagegate.api.auth import Authenticator
from imagegate.api.files import extension
from imagegate.api.parsing import Limits
from imagegate.catalog.loader import Catalog, load_catalog
from imagegate.media.decode import ImageDecoder
from imagegate.pipeline import Gateway
from imagegate.providers.base import Provider
from imagegate.providers.registry import build_providers
from imagegate.router import MemoryRouterState, Router, RouterConfig
from imagegate.settings import Settings
from imagegate.store.blobs import LocalBlobStore
from imagegate.store.db import Database, run_migrations
from imagegate.telemetry.metrics import Metrics
from imagegate.telemetry.recorder import RequestRecorder

log = logging.getLogger("imagegate")


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    db: Database
    blobs: LocalBlobStore
    recorder: RequestRecorder
    providers: dict[str, Provider]
    router: Router
    gateway: Gateway
    auth: Authenticator
    limits: Limits
    metrics: Metrics
    banner: list[str] = field(default_factory=list)
    decoder: ImageDecoder = field(default_factory=ImageDecoder)
    _tasks: list[asyncio.Task] = field(default_factory=list)

    async def start(self) -> None:
        await self.recorder.start()
        self._tasks.append(asyncio.create_task(self._sweep_blobs(), name="imagegate-blob-sweeper"))

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
        await self.recorder.aclose()
        for provider in self.providers.values():
            with contextlib.suppress(Exception):
                await provider.aclose()
        close_state = getattr(self.router.state, "aclose", None)
        if close_state is not None:
            await close_state()
        self.db.dispose()


def _router_state(settings: Settings):  # type: ignore[no-untyped-def]
    if settings.redis_url:
        from imagegate.router import RedisRouterState

        return RedisRouterState.from_url(settings.redis_url, prefix=settings.redis_prefix)
    return MemoryRouterState()


async def build_services(settings: Settings) -> Services:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog(settings.catalog_dirs)
    await asyncio.to_thread(run_migrations, settings.db_url)
    db = Database(settings.db_url)
    blobs = LocalBlobStore(settings.blob_dir, db)
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
    lookup = None
    if has_db_keys:

        async def lookup(token: str) -> str | None:
            return await asyncio.to_thread(db.verify_api_key, token)

    auth = Authenticator(settings.master_key, settings.api_keys, lookup)
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
        banner=banner,
        decoder=ImageDecoder(
            max_image_pixels=settings.max_image_pixels,
            max_request_pixels=settings.max_request_pixels,
            max_concurrent=settings.decode_concurrency,
        ),
    )
