"""Answer one image request under a replay mode: live, recorded, replayed or mocked.

Used by the API (synchronous requests) and by the job runner alike, so a job honours the same headers.
Live answers come from ``Tenancy.run`` (``Gateway.run`` under the key's policy: allowed models, images per minute,
budget reserved and settled), the same call the API makes; the key's policy is read again from its id.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.slices import Slices, b64_text, contiguous
from imagegate.core.types import ImageRequest
from imagegate.jobs import codec
from imagegate.jobs.mock import mock_body
from imagegate.jobs.recordings import RECORDING_BLOB_TTL_S, Recording, RecordingStore
from imagegate.jobs.replay import RecordingNotFound, ReplayOptions
from imagegate.media.formats import MIME_TYPES, sniff_format
from imagegate.pipeline import Gateway, GatewayAnswer

if TYPE_CHECKING:
    from imagegate.tenancy.guard import Tenancy

RECORDING_HEADER = "X-Imagegate-Recording-Id"
_IMAGE_KEYS = ("b64_json", "url")


@dataclass(slots=True)
class Outcome:
    """An answer's body (``data[].b64_json`` may be a memoryview slice) and its ``X-Imagegate-*`` headers."""

    body: dict[str, Any]
    headers: dict[str, str]
    cost_micros: int = 0


def _headers(provider: str, request_id: str, cost_micros: int) -> dict[str, str]:
    return {
        "X-Imagegate-Provider": provider,
        "X-Imagegate-Request-Id": request_id,
        "X-Imagegate-Cost-Micros": str(cost_micros),
    }


class Executor:
    def __init__(self, gateway: Gateway, recordings: RecordingStore, tenancy: Tenancy | None = None) -> None:
        self.gateway = gateway
        self.recordings = recordings
        self.tenancy = tenancy

    async def generate(self, request: ImageRequest) -> GatewayAnswer:
        """``Gateway.run`` under the policy of ``request.key_id`` (when the executor has the tenancy)."""
        if self.tenancy is None:
            return await self.gateway.run(request)
        return await self.tenancy.run(await self.tenancy.principal(request.key_id), request)

    async def run(self, request: ImageRequest, opts: ReplayOptions, body_digest: str | None = None) -> Outcome:
        if opts.mode == "off":
            return await self.live(request)
        if opts.mode == "mock":
            return await self.mock(request)
        if opts.mode == "record":
            return await self.record(request, body_digest)
        found = await self.find(request, opts, body_digest)
        if found is not None:
            return await self.replay(request, found)
        if opts.mode == "replay-or-mock":
            return await self.mock(request)
        if opts.mode == "replay-or-live":
            return await self.live(request)
        if opts.mode == "replay-or-record":
            return await self.record(request, body_digest)
        what = f"Recording '{opts.recording_id}' was not found" if opts.match == "id" else "No recording matches"
        raise RecordingNotFound(
            f"{what} for this request ({opts.match_text()} match) under this key.", param="X-Imagegate-Replay-Match"
        )

    # ------------------------------------------------------------------ modes

    async def live(self, request: ImageRequest) -> Outcome:
        answer = await self.generate(request)
        return Outcome(
            answer.body, _headers(answer.provider, answer.request_id, answer.cost_micros), answer.cost_micros
        )

    async def mock(self, request: ImageRequest) -> Outcome:
        body, images = await mock_body(self.gateway, request)
        blobs = [(i.data or b"", i.mime_type) for i in images]
        body["data"] = await self.render(request, blobs, [{} for _ in blobs])
        return Outcome(body, _headers("mock", request.request_id, 0))

    async def record(self, request: ImageRequest, body_digest: str | None) -> Outcome:
        asked = request.response_format
        request.response_format = "b64_json"  # the bytes are kept; the client still gets what it asked for
        try:
            answer = await self.generate(request)
        finally:
            request.response_format = asked
        images: list[tuple[bytes, str]] = []
        extras: list[dict[str, Any]] = []
        for item in answer.body.get("data", []):
            data = base64.b64decode(contiguous(item["b64_json"]))
            fmt = sniff_format(data) or "png"
            images.append((data, MIME_TYPES.get(fmt, "image/png")))
            extras.append({k: v for k, v in item.items() if k not in _IMAGE_KEYS})
        tokens = [await self.gateway.blobs.put(d, m, RECORDING_BLOB_TTL_S) for d, m in images]
        stored = {k: v for k, v in answer.body.items() if k != "data"}
        stored["data"] = extras
        model_id = (answer.body.get("metadata") or {}).get("model") or request.model
        canon = codec.canonical(request, model_id)
        rec_id = await asyncio.to_thread(
            self.recordings.add,
            request.key_id or "",
            canon,
            codec.canonical_hash(canon),
            body_digest,
            stored,
            [{"token": t, "mime_type": m} for t, (_d, m) in zip(tokens, images, strict=True)],
        )
        body = dict(answer.body)
        body["data"] = await self.render(request, images, extras)
        body["metadata"] = {**body.get("metadata", {}), "recording_id": rec_id}
        headers = _headers(answer.provider, answer.request_id, answer.cost_micros)
        headers[RECORDING_HEADER] = rec_id
        return Outcome(body, headers, answer.cost_micros)

    async def replay(self, request: ImageRequest, rec: Recording) -> Outcome:
        images = [await self._load(i["token"], i["mime_type"]) for i in rec.images]
        body = copy.deepcopy(rec.answer)
        extras = body.pop("data", [])
        body["created"] = int(time.time())
        body["data"] = await self.render(request, images, extras)
        meta = body.setdefault("metadata", {})
        meta.update(
            replayed=True, recording_id=rec.id, cost=0.0, cost_micros=0, request_id=request.request_id, attempts=[]
        )
        headers = _headers(str(meta.get("provider") or "replay"), request.request_id, 0)
        headers[RECORDING_HEADER] = rec.id
        headers["X-Imagegate-Replayed"] = "true"
        return Outcome(body, headers)

    # ------------------------------------------------------------------ helpers

    async def find(self, request: ImageRequest, opts: ReplayOptions, body_digest: str | None) -> Recording | None:
        owner = request.key_id or ""
        store = self.recordings
        if opts.match == "id":
            assert opts.recording_id is not None
            return await asyncio.to_thread(store.by_id, owner, opts.recording_id)
        if opts.match == "body":
            if body_digest is None:
                raise InvalidRequest("Body matching needs the request body.", param="X-Imagegate-Replay-Match")
            return await asyncio.to_thread(store.by_body, owner, body_digest)
        canon = codec.canonical(request, self._model_id(request))
        if opts.match == "canonical":
            return await asyncio.to_thread(store.by_canonical, owner, codec.canonical_hash(canon))
        unknown = [f for f in opts.fields if f not in canon]
        if unknown:
            raise InvalidRequest(
                f"Unknown field(s) in X-Imagegate-Replay-Match: {', '.join(unknown)}. Known: {', '.join(canon)}.",
                param="X-Imagegate-Replay-Match",
            )
        want = codec.fields_hash(canon, list(opts.fields))
        for rec in await asyncio.to_thread(store.recent, owner, request.operation):
            if codec.fields_hash(rec.canonical, list(opts.fields)) == want:
                return rec
        return None

    def _model_id(self, request: ImageRequest) -> str:
        try:
            return self.gateway.catalog.resolve(request.model)[0].id
        except GatewayError:
            return request.model

    async def _load(self, token: str, mime_type: str) -> tuple[bytes, str]:
        found = await self.gateway.blobs.read(token)
        if found is None:
            raise GatewayError("A recorded image is missing from the blob store.", status=500, code="RECORDING_BROKEN")
        content, mime = found
        return content, mime or mime_type

    async def render(
        self, request: ImageRequest, images: list[tuple[bytes, str]], extras: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Data items in the asked response format, from image bytes (``url``: a fresh expiring blob)."""
        out: list[dict[str, Any]] = []
        gateway = self.gateway
        for (data, mime), extra in zip(images, extras, strict=False):
            if request.response_format == "b64_json":
                item: dict[str, Any] = {"b64_json": base64.b64encode(data).decode("ascii")}
            else:
                token = await gateway.blobs.put(data, mime, gateway.url_ttl_s)
                item = {"url": gateway.url_for(token, mime)}
            item.update(extra)
            out.append(item)
        return out


def plain_body(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` with any zero-copy base64 slices turned into text (for storing as JSON)."""
    data = body.get("data")
    if not data or all(isinstance(i.get("b64_json"), str | None) for i in data):
        return body
    out = dict(body)
    out["data"] = [
        {**i, "b64_json": b64_text(i["b64_json"])} if isinstance(i.get("b64_json"), memoryview | Slices) else i
        for i in data
    ]
    return out
