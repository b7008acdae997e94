"""The request pipeline: one canonical request in, one priced, normalised, logged answer out.

Reads top to bottom as DESIGN.md draws it: resolve -> candidates -> route (attempts) -> normalise
-> price -> store -> log. Each step is one call into its package.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagegate.answer import answer_body, merge_results
from imagegate.catalog.loader import Catalog
from imagegate.catalog.schema import ModelRecord, Offer
from imagegate.core.errors import (
    GatewayError,
    InvalidRequest,
    ProviderError,
    UpstreamError,
)
from imagegate.core.types import Attempt, GeneratedImage, ImageRequest, ImageResult, RenderSpec
from imagegate.media.convert import normalise
from imagegate.media.dimensions import size_text
from imagegate.media.sizes import SizeMap
from imagegate.pricing import Pricer, dry_run_body
from imagegate.pricing.pricer import candidate_micros
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.input_mapping import check_params
from imagegate.providers.streaming import PartialSink
from imagegate.router import AttemptContext, Candidate, Router, RouteResult
from imagegate.store.blobs import BlobStore
from imagegate.streams import PartialRelay, StreamInterrupted
from imagegate.telemetry.metrics import Metrics
from imagegate.telemetry.recorder import RequestRecord, RequestRecorder


@dataclass(slots=True)
class Planned:
    """One offer that can serve the request, with its size mapping."""

    offer: Offer
    spec: RenderSpec
    candidate: Candidate


@dataclass(slots=True)
class GatewayAnswer:
    body: dict[str, Any]
    provider: str
    cost_micros: int
    request_id: str
    attempts: list[Attempt] = field(default_factory=list)


class Gateway:
    def __init__(
        self,
        *,
        catalog: Catalog,
        providers: dict[str, Provider],
        router: Router,
        blobs: BlobStore,
        recorder: RequestRecorder,
        url_for: Callable[[str, str], str],
        url_ttl_s: int = 3600,
        request_timeout_s: float = 300.0,
        log_prompts: bool = False,
        placeholder_only: bool = False,
        metrics: Metrics | None = None,
        pricer: Pricer | None = None,
    ) -> None:
        self.catalog = catalog
        self.providers = providers
        self.router = router
        self.map_size = SizeMap()  # size mapping per offer, remembered
        self.blobs = blobs
        self.recorder = recorder
        self.url_for = url_for
        self.url_ttl_s = url_ttl_s
        self.request_timeout_s = request_timeout_s
        self.log_prompts = log_prompts
        self.placeholder_only = placeholder_only
        self.metrics = metrics
        self.pricer = pricer or Pricer()  # estimates per offer and costs per attempt; keeps plans between requests

    # ------------------------------------------------------------------ planning

    def offers_for(self, model: ModelRecord) -> list[Offer]:
        """The model's offers that have an active adapter (plus the placeholder when enabled)."""
        if self.placeholder_only:
            return [self.catalog.placeholder_offer(model)]
        offers = [o for o in model.offers if o.provider in self.providers]
        if "placeholder" in self.providers:
            offers.append(self.catalog.placeholder_offer(model))
        return offers

    def plan(self, request: ImageRequest) -> tuple[ModelRecord, str | None, list[Planned]]:
        model, forced = self.catalog.resolve(request.model)
        offers = self.offers_for(model)
        if forced:
            if forced not in self.providers:  # in every mode: the placeholder never stands in for a forced one
                raise InvalidRequest(
                    f"Provider '{forced}' is not configured on this gateway for model '{model.id}' (its credentials "
                    "are not set). Drop the prefix to let the gateway route, or use ?dryRun=true to price every "
                    "offer.",
                    param="model",
                )
            offers = [o for o in offers if o.provider == forced]
        if not offers:
            raise InvalidRequest(f"No provider is configured for model '{model.id}'.", param="model")
        planned: list[Planned] = []
        first_error: GatewayError | None = None
        for offer in offers:
            try:
                self._check_capabilities(request, offer)
                check_params(request, offer)  # catalog mapping limits; strict_params (issue 16)
                spec = self.map_size(request, offer.capabilities)
            except GatewayError as exc:
                first_error = first_error or exc
                continue
            est = candidate_micros(self.pricer, request, offer, spec)
            wait = self._queue_wait(offer)
            planned.append(Planned(offer, spec, Candidate(offer=offer, estimated_cost_micros=est, queue_wait_s=wait)))
        if not planned:
            assert first_error is not None
            raise first_error
        return model, forced, planned

    def _queue_wait(self, offer: Offer) -> float:
        """Seconds a request would queue at this offer's provider before it starts (local GPU queues)."""
        expected = getattr(self.providers.get(offer.provider), "expected_wait_s", None)
        return expected(offer.config_key) if expected is not None else 0.0

    @staticmethod
    def _check_capabilities(request: ImageRequest, offer: Offer) -> None:
        caps = offer.capabilities
        if request.operation == "edit" and not caps.supports_edit:
            raise InvalidRequest(f"Model does not support image edits on {offer.provider_name}.", param="image")
        needed = len(request.images) + (1 if request.mask is not None and not caps.supports_mask else 0)
        if needed > caps.max_input_images:
            raise InvalidRequest(
                f"Too many input images: {needed} given, {offer.provider_name} accepts at most "
                f"{caps.max_input_images}.",
                param="image",
            )

    # ------------------------------------------------------------------ dry run

    def dry_run(self, request: ImageRequest) -> dict[str, Any]:
        model, forced, planned = self.plan(request)
        ordered = self.router.order(model.id, [p.candidate for p in planned], request.preferences, forced)
        if not ordered:
            raise InvalidRequest("No provider satisfies the request's provider preferences.", param="provider")
        chosen = next(p for p in planned if p.candidate is ordered[0])
        body = dry_run_body(model.id, chosen.offer, self.pricer.estimate(request, chosen.offer, chosen.spec))
        body["offers"] = self._price_every_offer(request, model)
        return body

    def _price_every_offer(self, request: ImageRequest, model: ModelRecord) -> list[dict[str, Any]]:
        """Every catalog offer's estimate, configured or not (estimates need no credentials); ``active`` says
        which ones this gateway would call, ``error`` why an offer cannot serve this request."""
        out: list[dict[str, Any]] = []
        for offer in model.offers:
            entry: dict[str, Any] = {"provider": offer.provider, "provider_name": offer.provider_name}
            entry["active"] = offer.provider in self.providers
            try:
                self._check_capabilities(request, offer)
                spec = self.map_size(request, offer.capabilities)
            except GatewayError as exc:
                out.append({**entry, "error": exc.message})
                continue
            priced = dry_run_body(model.id, offer, self.pricer.estimate(request, offer, spec))
            out.append({**entry, **{k: priced[k] for k in ("total_cost_micros", "currency", "components")}})
        return out

    # ------------------------------------------------------------------ run

    async def run(self, request: ImageRequest, partials: PartialRelay | None = None) -> GatewayAnswer:
        """Route, normalise, store and answer. Whatever happens (a refusal, a failure after the provider answered,
        an error of our own, the client leaving), the request is logged once with every attempt and its cost.
        ``partials``: the client streams; partial images go to the relay, which binds the request (streams.py)."""
        started = time.perf_counter()
        started_wall = time.time()
        model_id: str | None = None
        routed = RouteResult()  # filled by the router as attempts end, so nothing is lost if we are cancelled
        chosen: Planned | None = None
        try:
            model, forced, planned = self.plan(request)
            model_id = model.id
            by_candidate = {id(p.candidate): p for p in planned}
            clock = self.router.clock
            deadline = clock.now() + self.request_timeout_s

            async def attempt(candidate: Candidate, ctx: AttemptContext) -> ImageResult:
                p = by_candidate[id(candidate)]
                if partials is not None:
                    return await partials.attempt(
                        ctx.attempt_index, p.offer, lambda sink: self._call_offer(request, p, ctx, sink)
                    )
                return await self._call_offer(request, p, ctx)

            pricer = self.pricer

            def cost_of(candidate: Candidate, result: ImageResult) -> int:
                p = by_candidate[id(candidate)]
                cost = pricer.cost(result.usage, p.offer, resolution=p.spec.resolution, batch=request.batch)
                return cost.total_micros

            await self.router.route(
                model.id,
                [p.candidate for p in planned],
                attempt,
                prefs=request.preferences,
                forced_provider=forced,
                deadline=deadline,
                cost_of=cost_of,
                out=routed,
            )
            if routed.error is not None:
                raise client_error(routed.error)
            assert routed.candidate is not None and routed.result is not None
            chosen = by_candidate[id(routed.candidate)]
            result = routed.result
            cost_micros = routed.cost_micros  # the winning attempt's cost is the request's cost
            images = await normalise(
                result.images,
                output_format=request.output_format,
                compression=request.output_compression,
                want_b64=request.response_format == "b64_json",
                background=request.background,
            )
            data = await self._render_data(images, request, result.text)
            sizes = [size_text(i) for i in images]
            body = answer_body(request, model.id, chosen.offer, result, data, cost_micros, routed.attempts, sizes)
            done = RunEnd(200, images=len(images), image_bytes=sum(i.nbytes for i in images))
            self._log(request, model_id, chosen, routed, done, started, started_wall)
            return GatewayAnswer(body, chosen.offer.provider, cost_micros, request.request_id, routed.attempts)
        except GatewayError as exc:
            refusal = routed.error if isinstance(routed.error, ProviderError) else None
            end = RunEnd(exc.status, refusal.kind if refusal else exc.code, exc.message)  # e.g. "ContentPolicy"
            self._log(request, model_id, chosen, routed, end, started, started_wall)
            raise
        except asyncio.CancelledError:  # the client went away (or the server is stopping)
            end = RunEnd(CLIENT_CLOSED, "CLIENT_DISCONNECTED", "the client disconnected before the answer")
            if partials is not None and partials.bound_offer is not None:  # a stream: what its partials cost
                offer, billed, _running = partials.on_cancel(self.pricer)
                self._log(request, model_id, chosen, routed, end, started, started_wall, bound=(offer, billed))
            else:
                self._log(request, model_id, chosen, routed, end, started, started_wall)
            raise
        except Exception as exc:  # a bug or an I/O failure of ours (blob store): logged, then the 500 handler
            end = RunEnd(500, "INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
            self._log(request, model_id, chosen, routed, end, started, started_wall)
            raise

    async def _call_offer(
        self, request: ImageRequest, planned: Planned, ctx: AttemptContext, sink: PartialSink | None = None
    ) -> ImageResult:
        """One routed attempt on one offer; ``n`` beyond the offer's limit becomes parallel calls. The router
        enforces the attempt's time limit (``ctx``); the calls carry it only as a hint for the provider."""
        provider = self.providers[planned.offer.provider]
        max_n = planned.offer.capabilities.max_n
        chunks = [max_n] * (request.n // max_n) + ([request.n % max_n] if request.n % max_n else [])
        now = self.router.clock.now
        call_deadline = now() + ctx.timeout_s

        async def one(n: int) -> ImageResult:
            call = ProviderCall(request=request, offer=planned.offer, spec=planned.spec, n=n, deadline=call_deadline,
                                clock=now, partials=sink)  # fmt: skip
            return await provider.generate(call)

        if len(chunks) == 1:
            return await one(chunks[0])
        results = await asyncio.gather(*(one(n) for n in chunks), return_exceptions=True)
        # Retry each failed retryable sub-call once, in parallel, while time remains.
        failed = [i for i, r in enumerate(results) if isinstance(r, ProviderError) and r.retryable]
        if failed and call_deadline - now() > 1:
            retried = await asyncio.gather(*(one(chunks[i]) for i in failed), return_exceptions=True)
            for i, r in zip(failed, retried, strict=True):
                results[i] = r
        for r in results:
            if isinstance(r, BaseException):
                raise r
        return merge_results([r for r in results if isinstance(r, ImageResult)])

    async def _render_data(
        self, images: list[GeneratedImage], request: ImageRequest, text: str | None
    ) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = []
        for img in images:
            item: dict[str, Any]
            if request.response_format == "b64_json":
                item = {"b64_json": img.b64}
            else:
                assert img.data is not None
                token = await self.blobs.put(img.data, img.mime_type, self.url_ttl_s)
                item = {"url": self.url_for(token, img.mime_type)}
            if text:
                item["revised_prompt"] = text
            data.append(item)
        return data

    def _log(
        self,
        request: ImageRequest,
        model_id: str | None,
        chosen: Planned | None,
        routed: RouteResult,
        end: RunEnd,
        started: float,
        started_wall: float,
        bound: tuple[Offer | None, int] | None = None,
    ) -> None:
        """One request-log record (and its metrics). The provider and cost are the winning attempt's whenever
        there was one, also when a later step failed: the provider billed it. ``bound``: a stream cut short, the
        offer its partial images came from and what they cost."""
        attempts = list(routed.attempts)
        offer = chosen.offer if chosen is not None else None
        if offer is None and routed.candidate is not None:
            offer = routed.candidate.offer
        cost_micros = routed.cost_micros
        if bound is not None and bound[0] is not None:
            offer, cost_micros = bound[0], bound[1]
        ttfb = next((a.ttfb_ms for a in reversed(attempts) if a.outcome == "success"), None)
        rec = RequestRecord(
            id=request.request_id,
            created_at=started_wall,
            key_id=request.key_id,
            model=request.model,
            model_id=model_id,
            operation=request.operation,
            provider=offer.provider if offer else None,
            provider_model_id=offer.provider_model_id if offer else None,
            status=end.status,
            error_class=end.error_class,
            error_message=end.error_message,
            latency_ms=(time.perf_counter() - started) * 1000,
            ttfb_ms=ttfb,
            cost_micros=cost_micros,
            image_count=end.images,
            image_bytes=end.image_bytes,
            prompt=request.prompt if self.log_prompts else None,
            dry_run=False,
            user=request.user,
            attempts=attempts,
        )
        self.recorder.record(rec)
        if self.metrics is not None:
            self.metrics.observe(rec)


CLIENT_CLOSED = 499  # nginx's "client closed request": logged when the client left before the answer


@dataclass(slots=True)
class RunEnd:
    """How a run ended, for its log record."""

    status: int
    error_class: str | None = None
    error_message: str | None = None
    images: int = 0
    image_bytes: int = 0


def client_error(error: GatewayError | ProviderError) -> GatewayError:
    """The router's error as the client sees it: a non-retryable provider refusal becomes ``UPSTREAM_ERROR``."""
    if isinstance(error, GatewayError):
        return error
    if isinstance(error, StreamInterrupted):  # failed after partial images went out: 502 STREAM_INTERRUPTED
        return error.gateway_error()
    return UpstreamError(
        f"{error.provider or 'provider'} refused the request: {error.message}",
        details={"provider": error.provider, "reason": error.reason},
    )
