"""``POST chat/completions`` with image output, as OpenRouter serves it, through the Images API's pipeline.

The body becomes one canonical image request (``chat_parsing``; input images from ``image_url`` parts via
``image_urls``), runs through ``Gateway.run`` (catalog, routing preferences, failover, pricing, request log) and
comes back as a chat completion: ``message.content`` holds the model's text (Gemini's, or empty for image-only
models), ``message.images[]`` the images as data URLs, plus ``usage`` and our ``metadata``. ``stream: true``
sends ``chat.completion.chunk`` events (the text, then the images in a final delta) and ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.chat_parsing import ImageRef, parse_chat
from imagegate.api.encode import Part, PartsResponse, Splicer
from imagegate.api.image_stream import start_relay
from imagegate.api.image_urls import ImageFetcher
from imagegate.api.images import _read_json
from imagegate.api.parsing import build_request
from imagegate.api.sse import KEEPALIVE, EventStreamResponse, error_event, event, wait_set
from imagegate.core.errors import GatewayError, InvalidRequest, ModelNotFound
from imagegate.core.types import InputImage
from imagegate.media.formats import MIME_TYPES, sniff_b64
from imagegate.media.inspect import inspect_image
from imagegate.pipeline import GatewayAnswer
from imagegate.streams import PartialRelay

log = logging.getLogger("imagegate.api")


async def completions(request: Request) -> Response:
    services = request.app.state.services
    settings = services.settings
    ctype = request.headers.get("content-type", "")
    if ctype and "json" not in ctype:
        raise InvalidRequest("chat/completions expects a JSON body (Content-Type: application/json).")
    chat = parse_chat(await _read_json(request, settings.max_upload_bytes))
    try:
        services.gateway.catalog.resolve(chat.fields["model"])
    except ModelNotFound:
        raise InvalidRequest(
            f"Model '{chat.fields['model']}' is not an image model served here: this gateway serves image models "
            "(text-only chat is not supported).",
            param="model",
        ) from None
    if len(chat.images) > settings.max_input_images:
        raise InvalidRequest(f"Too many input images: {len(chat.images)}, the maximum is {settings.max_input_images}.",
                             param="messages")  # fmt: skip
    images = await load_images(chat.images, settings)
    image_request = build_request(
        chat.fields, operation="edit" if images else "generate", limits=services.limits, images=images
    )
    image_request.request_id = request.state.request_id
    image_request.key_id = request.state.key_id
    if chat.stream:
        relay, run = await start_relay(services, request.state.principal, image_request, settings.stream_keepalive_s)
        body = chunks(relay, run, image_request.request_id, settings.stream_keepalive_s)
        return EventStreamResponse(body, headers={"X-Imagegate-Request-Id": image_request.request_id})
    answer = await services.tenancy.run(request.state.principal, image_request)
    splicer = Splicer()
    message = {"role": "assistant", **_message(answer.body, splicer)}
    completion = {
        "id": _completion_id(answer.request_id),
        "object": "chat.completion",
        "created": answer.body["created"],
        "model": answer.body["metadata"]["model"],
        "provider": answer.body["metadata"]["provider_name"],
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": _usage(answer.body),
        "metadata": answer.body["metadata"],
    }
    return PartsResponse(splicer.encode(completion), headers=_headers(answer))


async def load_images(refs: list[ImageRef], settings: Any) -> list[InputImage]:
    """Decode or fetch every image reference and check it is an image (400 naming its field otherwise)."""
    if not refs:
        return []
    async with ImageFetcher(max_bytes=settings.max_upload_bytes, allow_private=settings.allow_private_image_urls) as f:
        blobs = await asyncio.gather(*(f.load(r.url, r.field) for r in refs))
    return list(
        await asyncio.gather(
            *(asyncio.to_thread(inspect_image, b, max_pixels=settings.max_image_pixels, field=r.field)
              for b, r in zip(blobs, refs, strict=True))
        )
    )  # fmt: skip


def _message(body: dict[str, Any], splicer: Splicer) -> dict[str, Any]:
    """``content`` (the model's text, or empty) and ``images`` as data URLs (base64 spliced in, not copied)."""
    data = body["data"]
    text = next((d["revised_prompt"] for d in data if d.get("revised_prompt")), "")
    images = []
    for d in data:
        b64 = d["b64_json"]
        mime = MIME_TYPES.get(sniff_b64(b64) or "png", "image/png")
        images.append({"type": "image_url", "image_url": {"url": f"data:{mime};base64," + splicer.mark(b64)}})
    return {"content": text, "images": images}


def _usage(body: dict[str, Any]) -> dict[str, Any]:
    usage = body.get("usage") or {}
    prompt, completion = usage.get("input_tokens", 0), usage.get("output_tokens", 0)
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": body["metadata"]["cost"],
    }
    details = usage.get("output_tokens_details")
    if details:
        out["completion_tokens_details"] = {"image_tokens": details.get("image_tokens", 0),
                                            "reasoning_tokens": 0}  # fmt: skip
    return out


def _completion_id(request_id: str) -> str:
    return "chatcmpl-" + request_id.removeprefix("req_")


def _headers(answer: GatewayAnswer) -> dict[str, str]:
    return {
        "X-Imagegate-Provider": answer.provider,
        "X-Imagegate-Request-Id": answer.request_id,
        "X-Imagegate-Cost-Micros": str(answer.cost_micros),
    }


async def chunks(
    relay: PartialRelay, run: asyncio.Future[GatewayAnswer], request_id: str, keepalive_s: float
) -> AsyncIterator[Part]:
    """Keep-alives while the image renders, then the text delta, the images in a final delta, and ``[DONE]``."""
    try:
        while not run.done():
            relay.wakeup.clear()
            relay.pending.clear()  # progress notes are not chat content
            if not await wait_set(relay.wakeup, keepalive_s):
                yield KEEPALIVE
        exc = run.exception()
        if exc is not None:
            err = exc if isinstance(exc, GatewayError) else GatewayError("The gateway hit an internal error.")
            log.warning("chat stream %s failed after it started: %s (%s)", request_id, err.message, type(exc).__name__)
            for part in error_event(err, named=False):
                yield part
            return
        body = run.result().body
        meta = body["metadata"]
        splicer = Splicer()
        message = _message(body, splicer)
        base = {"id": _completion_id(request_id), "object": "chat.completion.chunk", "created": body["created"],
                "model": meta["model"], "provider": meta["provider_name"]}  # fmt: skip
        first = {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": message["content"]},
                                      "finish_reason": None}]}  # fmt: skip
        for part in event(None, Splicer().encode(first)):
            yield part
        last = {**base, "choices": [{"index": 0, "delta": {"images": message["images"]}, "finish_reason": "stop"}],
                "usage": _usage(body), "metadata": meta}  # fmt: skip
        for part in event(None, splicer.encode(last)):
            yield part
        yield b"data: [DONE]\n\n"
    finally:
        if not run.done():
            run.cancel()
