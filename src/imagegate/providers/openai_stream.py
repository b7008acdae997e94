"""OpenAI Images API with ``stream: true``: partial images relayed to the call's sink as they arrive.

The upstream answers ``text/event-stream``: ``image_generation.partial_image`` / ``image_edit.partial_image`` events
(``b64_json``, ``partial_image_index``, ``size``, ``quality``, ``background``, ``output_format``, ``created_at``),
then ``*.completed`` with the final image and ``usage``; a failure mid-stream is an ``error`` event in the OpenAI
error shape. A partial image whose bytes are still arriving is handed on piece by piece as they come (cut-through:
the client starts receiving it while the gateway still does); one that arrived whole is handed on verbatim. The
completed event's base64 is lifted out (never parsed into a string).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import aiohttp

from imagegate.core.errors import (
    BadResponse,
    ContentPolicy,
    ProviderError,
    ProviderInvalidRequest,
    RateLimited,
    Unavailable,
)
from imagegate.core.types import GeneratedImage, ImageResult
from imagegate.providers.b64lift import loads_lifting, resolve
from imagegate.providers.base import ProviderCall
from imagegate.providers.http import TRANSPORT_ERRORS, UpstreamResponse, transport_error
from imagegate.providers.streaming import PartialImage, SsePart, iter_sse

if TYPE_CHECKING:
    from imagegate.providers.openai import OpenAIProvider

_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


async def stream_images(
    provider: OpenAIProvider, call: ProviderCall, params: dict[str, Any], headers: dict[str, str], data: Any
) -> ImageResult:
    """One streamed upstream call; ``data`` is the multipart form for edits, else ``params`` go as JSON."""
    from imagegate.providers.openai import map_error

    assert call.partials is not None
    http = provider._http
    edit = call.request.operation == "edit"
    url = f"{provider.base_url}/images/{'edits' if edit else 'generations'}"
    timeout = aiohttp.ClientTimeout(
        total=min(call.remaining(), http.timeouts.total), sock_connect=http.timeouts.connect,
        sock_read=http.timeouts.read,
    )  # fmt: skip
    started = time.perf_counter()
    kwargs: dict[str, Any] = {"data": data} if edit else {"json": params}
    try:
        async with http.session.post(url, headers=headers, timeout=timeout, **kwargs) as resp:
            ttfb = (time.perf_counter() - started) * 1000
            if resp.status != 200 or "text/event-stream" not in resp.headers.get("Content-Type", ""):
                body = await resp.read()
                answer = UpstreamResponse(resp.status, resp.headers, body, ttfb, ttfb, provider.name)
                if resp.status != 200:
                    raise map_error(provider.name, answer)
                return provider._result(call, answer, params.get("output_format"))  # answered without streaming
            images: list[GeneratedImage] = []
            usage_raw: Any = None
            text = None
            async for event in iter_sse(resp.content, http.max_body, pass_through=(".partial_image",)):
                if isinstance(event, SsePart):  # a partial image still arriving: relayed piece by piece
                    await call.partials.partial_part(event.event, event.data, event.first, event.last)
                    continue
                raw = event.data
                try:
                    obj, lifted = loads_lifting(raw, b"b64_json")
                except ValueError:
                    raise BadResponse("openai: a stream event is not JSON", provider=provider.name) from None
                if not isinstance(obj, dict):
                    raise BadResponse("openai: a stream event is not a JSON object", provider=provider.name)
                kind = str(obj.get("type") or event.event or "")
                if kind == "error" or obj.get("error"):
                    raise stream_error(provider.name, obj.get("error"))
                b64 = resolve(obj.get("b64_json"), lifted)
                if not isinstance(b64, str | memoryview) or not b64:
                    raise BadResponse(f"openai: a {kind or 'stream'} event has no b64_json", provider=provider.name)
                if kind.endswith(".partial_image"):
                    index = obj.get("partial_image_index")
                    await call.partials.partial(PartialImage(int(index or 0), b64, kind, raw))
                elif kind.endswith(".completed"):
                    fmt = str(obj.get("output_format") or params.get("output_format") or "png")
                    width, height = _size(obj.get("size"))
                    images.append(GeneratedImage(_MIME.get(fmt, "image/png"), b64=b64, width=width, height=height))
                    usage_raw = obj.get("usage") or usage_raw
                    text = text or obj.get("revised_prompt")
                del event, raw, obj, lifted, b64  # a relayed partial is not kept while the next one renders
            if not images:
                raise BadResponse("openai: the stream ended before the image was complete", provider=provider.name)
            return ImageResult(
                images=images,
                usage=provider._usage(usage_raw, len(images), len(call.request.images)),
                text=text,
                provider_request_id=resp.headers.get("x-request-id"),
                ttfb_ms=ttfb,
            )
    except ProviderError:
        raise
    except ValueError as exc:  # an event over the body cap
        raise BadResponse(f"openai: {exc}", provider=provider.name) from None
    except TRANSPORT_ERRORS as exc:
        raise transport_error(provider.name, exc) from exc


def stream_error(provider: str, err: Any) -> ProviderError:
    """An ``error`` event: content policy is final, an invalid request too; anything else is transient."""
    err = err if isinstance(err, dict) else {}
    code = err.get("code") if isinstance(err.get("code"), str) else None
    kind = err.get("type")
    text = f"openai: {err.get('message') or 'the stream failed'}"
    kw: dict[str, Any] = {"provider": provider, "reason": code or kind}
    if code in ("moderation_blocked", "content_policy_violation"):
        return ContentPolicy(text, **kw)
    if code == "rate_limit_exceeded":
        return RateLimited(text, **kw)
    if kind == "invalid_request_error":
        return ProviderInvalidRequest(text, **kw)
    return Unavailable(text, **kw)


def _size(value: Any) -> tuple[int | None, int | None]:
    if isinstance(value, str) and "x" in value:
        w, _, h = value.partition("x")
        if w.isdigit() and h.isdigit():
            return int(w), int(h)
    return None, None
