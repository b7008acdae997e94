"""``stream: true`` on ``images/generations`` and ``images/edits``: OpenAI's partial-image events over SSE.

The pipeline runs as for any request, with a ``PartialRelay`` (``imagegate.streams``) that carries partial images
out while the attempt runs. Until the first event is due the client has had no answer at all, so a failure there
(bad model, every provider down) is an ordinary HTTP error; the response starts with the first partial image,
the completed image, or the first keep-alive, whichever comes first. After that a failure is an ``error`` event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.encode import Part, Splicer
from imagegate.api.sse import KEEPALIVE, EventStreamResponse, comment, error_event, event, wait_set
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.slices import B64
from imagegate.core.types import ImageRequest
from imagegate.media.formats import png_size, sniff_b64
from imagegate.pipeline import Gateway, GatewayAnswer
from imagegate.providers.streaming import PartialImage
from imagegate.streams import PartialRelay

log = logging.getLogger("imagegate.api")
ZERO_USAGE = {"input_tokens": 0, "input_tokens_details": {"image_tokens": 0, "text_tokens": 0}, "output_tokens": 0,
              "total_tokens": 0}  # fmt: skip


async def start_relay(
    services: Any, principal: Any, image_request: ImageRequest, keepalive_s: float
) -> tuple[PartialRelay, asyncio.Future[GatewayAnswer]]:
    """Start the pipeline (under the key's policy: ``tenancy.run``) with a relay and wait for its first event (or a
    keep-alive's worth of time); an error before then is raised here, as an ordinary HTTP error."""
    relay = PartialRelay()
    run = asyncio.ensure_future(services.tenancy.run(principal, image_request, partials=relay))
    run.add_done_callback(lambda _t: relay.wakeup.set())
    try:
        await wait_set(relay.wakeup, keepalive_s)
    except BaseException:
        run.cancel()
        raise
    if run.done() and not relay.pending and run.exception() is not None:
        raise run.exception()  # type: ignore[misc]
    return relay, run


async def stream_images(request: Request, image_request: ImageRequest, principal: Any = None) -> Response:
    services = request.app.state.services
    gateway: Gateway = services.gateway
    image_request.response_format = "b64_json"  # streamed images are always base64, as OpenAI sends them
    if image_request.n > 1:
        check_stream_n(gateway, image_request)
    relay, run = await start_relay(services, principal, image_request, services.settings.stream_keepalive_s)
    prefix = "image_edit" if image_request.operation == "edit" else "image_generation"
    headers = {"X-Imagegate-Request-Id": image_request.request_id}
    if run.done() and run.exception() is None:
        headers["X-Imagegate-Provider"] = run.result().provider
        headers["X-Imagegate-Cost-Micros"] = str(run.result().cost_micros)
    body = image_events(relay, run, image_request, prefix, services.settings.stream_keepalive_s)
    return EventStreamResponse(body, headers=headers)


def check_stream_n(gateway: Gateway, image_request: ImageRequest) -> None:
    """``n`` > 1 with partial images: refused when an offer streams partials (one image per streamed call)."""
    if not image_request.extra.get("partial_images"):
        return  # no partials asked: every image comes as its own completed event
    _model, _forced, planned = gateway.plan(image_request)
    for p in planned:
        if getattr(gateway.providers.get(p.offer.provider), "streams_partials", False):
            raise InvalidRequest(
                f"'n' must be 1 when streaming partial images: {p.offer.provider_name} streams one image per call "
                f"(ask n=1, or partial_images=0 to get {image_request.n} completed events).",
                param="n",
            )


async def image_events(
    relay: PartialRelay, run: asyncio.Future[GatewayAnswer], req: ImageRequest, prefix: str, keepalive_s: float
) -> AsyncIterator[Part]:
    """Partial images as the relay gets them, keep-alives while waiting, then the completed image(s) or an error."""
    open_part = False  # a relayed partial event is half sent
    try:
        while True:
            relay.wakeup.clear()
            while relay.pending:
                ev = relay.pending.popleft()
                if ev.kind == "part":
                    if ev.first:
                        yield f"event: {ev.text}\ndata: ".encode()
                    yield ev.data
                    if ev.last:
                        yield b"\n\n"
                    open_part = not ev.last
                elif ev.kind == "partial" and ev.image is not None:
                    for part in partial_event(ev.image, prefix, req):
                        yield part
                elif not open_part:  # a comment never goes inside an event
                    yield comment(f"progress {ev.text}")
                del ev  # sent: not kept alive while the stream waits
            if run.done():
                break
            if not await wait_set(relay.wakeup, keepalive_s) and not open_part:  # never inside an event
                yield KEEPALIVE
        exc = run.exception()
        if exc is None:
            for part in completed_events(run.result().body, prefix, req):
                yield part
            return
        err = exc if isinstance(exc, GatewayError) else GatewayError("The gateway hit an internal error.")
        log.warning("stream %s failed after it started: %s (%s)", req.request_id, err.message, type(exc).__name__)
        if open_part:  # the upstream broke off inside a partial image: end that (broken) event first
            yield b"\n\n"
        for part in error_event(err):
            yield part
    finally:
        if not run.done():
            run.cancel()  # the client went away: the pipeline cancels the upstream call and logs the request


def partial_event(image: PartialImage, prefix: str, req: ImageRequest) -> list[Part]:
    kind = f"{prefix}.partial_image"
    if image.raw is not None and image.event == kind and b"\n" not in image.raw:
        return event(kind, [image.raw])  # the upstream's own event, relayed verbatim
    splicer = Splicer()
    fmt = _format(image.b64, req)
    obj = {"type": kind, "b64_json": splicer.mark(image.b64), "partial_image_index": image.index,
           "created_at": _now(), "size": req.size or "auto", "quality": req.quality or "auto",
           "background": req.background or "auto", "output_format": fmt}  # fmt: skip
    return event(kind, splicer.encode(obj))


def completed_events(body: dict[str, Any], prefix: str, req: ImageRequest) -> list[Part]:
    """One ``*.completed`` event per image, with ``usage`` and our ``metadata``."""
    kind = f"{prefix}.completed"
    parts: list[Part] = []
    for item in body["data"]:
        b64 = item["b64_json"]
        splicer = Splicer()
        obj: dict[str, Any] = {
            "type": kind,
            "b64_json": splicer.mark(b64),
            "created_at": body.get("created") or _now(),
            "size": _size(b64) or body.get("size") or "auto",
            "quality": body.get("quality") or "auto",
            "background": body.get("background") or "auto",
            "output_format": _format(b64, req),
            "usage": body.get("usage") or ZERO_USAGE,
            "metadata": body.get("metadata"),
        }
        if item.get("revised_prompt"):
            obj["revised_prompt"] = item["revised_prompt"]
        parts.extend(event(kind, splicer.encode(obj)))
    return parts


def _now() -> int:
    return int(time.time())


def _format(b64: B64, req: ImageRequest) -> str:
    return sniff_b64(b64) or req.output_format or "png"


def _size(b64: B64) -> str | None:
    """``WxH`` from a PNG's header; None for other formats."""
    dims = png_size(b64)
    return f"{dims[0]}x{dims[1]}" if dims else None
