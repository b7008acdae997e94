"""The request log loses nothing (issue 9): whatever happens after a provider was reached, the request is logged
with every attempt and its cost.

The real pipeline, catalog, router, recorder (SQLite) and blob store; the provider is a scripted adapter behind the
provider seam (``providers/base.py``), so each case can fail at the exact step it is about.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from sqlalchemy import select

from imagegate.catalog import load_catalog
from imagegate.core.errors import GatewayError
from imagegate.core.types import GeneratedImage, ImageRequest, ImageResult, Usage
from imagegate.media.convert import BadImageOutput
from imagegate.pipeline import CLIENT_CLOSED, Gateway
from imagegate.providers.base import ProviderCall
from imagegate.router import MemoryRouterState, Router
from imagegate.store.blobs import LocalBlobStore
from imagegate.store.db import Database
from imagegate.store.models import AttemptRow, RequestRow
from imagegate.telemetry.recorder import RequestRecorder
from imagegate.testing.fakes.common import make_image

MODEL = "gemini-3-pro-image-preview"


class Scripted:
    """A provider adapter that answers ``images`` (after ``gate`` is set, when given)."""

    name = "gemini"

    def __init__(self, images: list[GeneratedImage], gate: asyncio.Event | None = None) -> None:
        self.images = images
        self.gate = gate
        self.started = asyncio.Event()

    async def generate(self, call: ProviderCall) -> ImageResult:
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        return ImageResult(images=self.images, usage=Usage(output_image_tokens=1120, output_images=1, reported=True))

    async def aclose(self) -> None:
        return None


class BrokenBlobs(LocalBlobStore):
    async def put(self, data: bytes, mime_type: str, ttl_s: int) -> str:
        raise OSError(28, "No space left on device")


async def gateway_for(db: Database, tmp_path: Path, provider: Scripted, blobs: type[LocalBlobStore] = LocalBlobStore):
    recorder = RequestRecorder(db, flush_interval_s=0.01)
    await recorder.start()
    gw = Gateway(
        catalog=load_catalog(),
        providers={"gemini": provider},
        router=Router(MemoryRouterState()),
        blobs=blobs(tmp_path / "blobs", db),
        recorder=recorder,
        url_for=lambda t, m: f"http://x/{t}",
    )
    return gw, recorder


def logged(db: Database, request_id: str) -> tuple[RequestRow, list[AttemptRow]]:
    with db.session() as s:
        row = s.scalars(select(RequestRow).where(RequestRow.id == request_id)).one()
        attempts = list(s.scalars(select(AttemptRow).where(AttemptRow.request_id == request_id)))
    return row, attempts


def png_b64() -> str:
    return base64.b64encode(make_image(64, 64, "png", "x")).decode()


def request(rid: str, **kw: object) -> ImageRequest:
    return ImageRequest(operation="generate", model=MODEL, prompt="a fox", request_id=rid, **kw)  # type: ignore[arg-type]


async def test_a_failure_after_the_provider_answered_keeps_its_attempt_and_cost(db, tmp_path) -> None:
    """normalise raising BadImageOutput used to log attempts=[], provider None and cost 0."""
    gw, recorder = await gateway_for(db, tmp_path, Scripted([GeneratedImage("image/png", b64="bm90IGFuIGltYWdl")]))
    with pytest.raises(BadImageOutput):
        await gw.run(request("req_bad", output_format="webp", response_format="b64_json"))
    await recorder.aclose()
    row, attempts = logged(db, "req_bad")
    assert (row.status, row.error_class, row.provider) == (502, "BAD_PROVIDER_OUTPUT", "gemini")
    assert row.cost_micros > 0 and row.attempts_count == 1
    assert [(a.provider, a.outcome, a.cost_micros) for a in attempts] == [("gemini", "success", row.cost_micros)]


async def test_an_error_of_our_own_is_logged_with_the_attempts(db, tmp_path) -> None:
    """An OSError in the blob store never reached the log or the metrics."""
    gw, recorder = await gateway_for(db, tmp_path, Scripted([GeneratedImage("image/png", b64=png_b64())]), BrokenBlobs)
    with pytest.raises(OSError):
        await gw.run(request("req_disk", response_format="url"))
    await recorder.aclose()
    row, attempts = logged(db, "req_disk")
    assert (row.status, row.error_class, row.provider) == (500, "INTERNAL_ERROR", "gemini")
    assert "OSError" in row.error_message and row.cost_micros > 0
    assert [a.outcome for a in attempts] == ["success"]


async def test_a_client_that_leaves_mid_generation_is_logged_as_499(db, tmp_path) -> None:
    provider = Scripted([GeneratedImage("image/png", b64=png_b64())], gate=asyncio.Event())
    gw, recorder = await gateway_for(db, tmp_path, provider)
    task = asyncio.ensure_future(gw.run(request("req_gone", response_format="b64_json")))
    await provider.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await recorder.aclose()
    row, attempts = logged(db, "req_gone")
    assert (row.status, row.error_class) == (CLIENT_CLOSED, "CLIENT_DISCONNECTED")
    assert row.cost_micros == 0  # nothing was delivered: the request itself costs the client nothing
    [a] = attempts
    assert (a.provider, a.outcome, a.possibly_billed) == ("gemini", "cancelled", True)
    assert a.cost_micros > 0  # the provider may bill it: kept at the offer's estimate


async def test_a_refusal_before_any_provider_is_logged_too(db, tmp_path) -> None:
    gw, recorder = await gateway_for(db, tmp_path, Scripted([]))
    with pytest.raises(GatewayError):
        await gw.run(ImageRequest(operation="generate", model="no-such-model", prompt="x", request_id="req_404"))
    await recorder.aclose()
    row, attempts = logged(db, "req_404")
    assert row.status == 404 and attempts == []
