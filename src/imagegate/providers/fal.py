"""fal.ai adapter: the queue API (submit, poll status, fetch the result, download the images).

- Base URL: ``IMAGEGATE_FAL_BASE_URL`` is the queue host (default ``https://queue.fal.run``). Submissions go to
  ``{base}/{model_id}`` or ``{base}/{model_id}{edit_suffix}``; polling, result and cancel use the URLs fal returns
  (they carry no ``/edit``).
- ``Authorization: Key <FAL_KEY>`` goes to the queue host only. Output image URLs (``v3.fal.media``) are public and
  fetched without it, so the key never leaves for another host.
- Polling follows an injectable delay schedule with jitter; at the call's deadline or on cancellation the request is
  cancelled upstream (``PUT cancel_url``, best effort, shielded) before ``Timeout`` / ``CancelledError`` goes up.
- Errors: ``detail`` (string, or a list of typed objects: ``content_policy_violation`` -> ``ContentPolicy``),
  ``error_type`` / ``X-Fal-Error-Type`` (``request_timeout`` -> ``Timeout``, runner failures -> ``Unavailable``),
  HTTP status (401/403 auth, 429 rate limit, 4xx invalid, 5xx unavailable); ``X-Fal-Retryable: false`` turns an
  otherwise transient failure into a non-retryable ``ProviderInvalidRequest``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import random
import time
from collections.abc import Sequence
from typing import Any

import orjson

from imagegate.core.errors import (
    AuthFailed,
    BadResponse,
    ContentPolicy,
    ProviderError,
    ProviderInvalidRequest,
    RateLimited,
    Timeout,
    Unavailable,
)
from imagegate.core.types import GeneratedImage, ImageResult, Usage
from imagegate.providers.base import ProviderCall
from imagegate.providers.http import HttpTimeouts, UpstreamClient, UpstreamResponse, retry_after_seconds
from imagegate.settings import ProviderSettings

DEFAULT_BASE_URL = "https://queue.fal.run"
DEFAULT_POLL_SCHEDULE = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0)  # seconds between status polls; the last one repeats
FAL_OUTPUT_FORMATS = ("jpeg", "png", "webp")
FAL_RESOLUTIONS = ("1K", "2K", "4K")
FAL_MAX_IMAGES = 4
# request.extra fields fal's Gemini endpoints know, passed through as given
EXTRA_FIELDS = ("safety_tolerance", "enable_web_search", "limit_generations")
TIMEOUT_ERROR_TYPES = ("request_timeout", "startup_timeout")
MAX_POLL_ERRORS = 3  # consecutive transient status-poll failures tolerated
CANCEL_TIMEOUT_S = 5.0
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"RIFF", "image/webp"), (b"GIF8", "image/gif"))


def sniff_mime(data: bytes, declared: str | None = None) -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    return declared or "application/octet-stream"


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


class FalProvider:
    name = "fal"

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        poll_schedule: Sequence[float] = DEFAULT_POLL_SCHEDULE,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self._key = settings.api_key or ""
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._schedule = tuple(d * settings.poll_scale for d in poll_schedule) or (0.0,)
        self._jitter = jitter
        self._rng = rng or random.Random()
        timeouts = HttpTimeouts(settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s)
        self._http = UpstreamClient(self.name, timeouts)

    # ------------------------------------------------------------------ the call

    async def generate(self, call: ProviderCall) -> ImageResult:
        if not self._key:
            raise AuthFailed("fal: FAL_KEY is not set", provider=self.name)
        started = time.perf_counter()
        url, body = self._submission(call)
        if call.remaining() <= 0:
            raise Timeout("fal: the deadline passed before the call started", provider=self.name)
        resp = await self._http.request("POST", url, headers=self._auth(), json=body, timeout=call.remaining())
        if resp.status != 200:
            raise self._error(resp)
        queued = resp.json()
        if not isinstance(queued, dict) or not queued.get("request_id"):
            raise BadResponse("fal: the submit answer has no request_id", provider=self.name, status=resp.status)
        request_id = str(queued["request_id"])
        urls = self._queue_urls(call.offer.provider_model_id, queued)
        try:
            result, ttfb_at = await asyncio.wait_for(self._await_result(urls, started), timeout=call.remaining())
            images = await asyncio.wait_for(self._images(result), timeout=call.remaining())
        except TimeoutError:
            await self._cancel(urls["cancel_url"])
            raise Timeout("fal: the call ran past its deadline; request cancelled", provider=self.name) from None
        except asyncio.CancelledError:
            await self._cancel(urls["cancel_url"])
            raise
        usage = Usage(output_images=len(images), input_images=len(call.request.images))
        text = result.get("description")
        return ImageResult(
            images=images,
            usage=usage,
            text=text if isinstance(text, str) and text.strip() else None,
            provider_request_id=request_id,
            ttfb_ms=ttfb_at,
        )

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Key {self._key}"}

    def _submission(self, call: ProviderCall) -> tuple[str, dict[str, Any]]:
        req, offer, spec = call.request, call.offer, call.spec
        if not 1 <= call.n <= FAL_MAX_IMAGES:
            raise ProviderInvalidRequest(f"fal: num_images must be 1-{FAL_MAX_IMAGES}, not {call.n}",
                                         provider=self.name)
        url = f"{self.base_url}/{offer.provider_model_id}"
        body: dict[str, Any] = {
            "prompt": req.prompt,
            "num_images": call.n,
            "aspect_ratio": spec.aspect_ratio or "auto",
            "output_format": self._output_format(req.output_format, offer.capabilities.output_formats),
            "sync_mode": False,
        }
        if spec.resolution in FAL_RESOLUTIONS:
            body["resolution"] = spec.resolution
        if req.seed is not None:
            body["seed"] = req.seed
        for name in EXTRA_FIELDS:
            if name in req.extra and req.extra[name] is not None:
                value = req.extra[name]
                body[name] = str(value) if name == "safety_tolerance" else value
        if req.operation == "edit":
            limit = offer.capabilities.max_input_images or 2
            if not req.images:
                raise ProviderInvalidRequest("fal: an edit needs at least one input image", provider=self.name)
            if len(req.images) > limit:
                raise ProviderInvalidRequest(
                    f"fal: {offer.provider_model_id} takes at most {limit} input images, got {len(req.images)}",
                    provider=self.name,
                )
            url += str(offer.options.get("edit_suffix") or "/edit")
            body["image_urls"] = [_data_uri(img.data, img.mime_type) for img in req.images]
        return url, body

    @staticmethod
    def _output_format(asked: str | None, supported: tuple[str, ...]) -> str:
        fmt = "jpeg" if asked == "jpg" else asked
        return fmt if fmt in FAL_OUTPUT_FORMATS and fmt in supported else "png"

    def _queue_urls(self, model_id: str, queued: dict[str, Any]) -> dict[str, str]:
        """The URLs fal returned; built from the app id (owner/name, no sub-path) when one is missing."""
        app = "/".join(model_id.split("/")[:2])
        root = f"{self.base_url}/{app}/requests/{queued['request_id']}"
        fallback = {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}
        return {k: str(queued.get(k) or v) for k, v in fallback.items()}

    # ------------------------------------------------------------------ polling

    def poll_delay(self, attempt: int) -> float:
        base = self._schedule[min(attempt, len(self._schedule) - 1)]
        if base <= 0 or self._jitter <= 0:
            return max(0.0, base)
        return base * self._rng.uniform(1 - self._jitter, 1 + self._jitter)

    async def _await_result(self, urls: dict[str, str], started: float) -> tuple[dict[str, Any], float]:
        error_type = await self._poll(urls["status_url"])
        resp = await self._http.request("GET", urls["response_url"], headers=self._auth())
        ttfb_at = (time.perf_counter() - started) * 1000 - resp.elapsed_ms + resp.ttfb_ms
        if resp.status != 200:
            raise self._error(resp, error_type)
        result = resp.json()
        if not isinstance(result, dict):
            raise BadResponse("fal: the result is not a JSON object", provider=self.name, status=resp.status)
        return result, ttfb_at

    async def _poll(self, status_url: str) -> str | None:
        """Poll until the request leaves the queue; return its ``error_type`` (None when it succeeded)."""
        attempt = 0
        failures = 0
        while True:
            try:
                resp = await self._http.request("GET", status_url, headers=self._auth())
                if resp.status != 200:
                    raise self._error(resp)
                status = resp.json()
                failures = 0
            except (RateLimited, Unavailable) as exc:
                failures += 1
                if failures >= MAX_POLL_ERRORS:
                    raise
                await asyncio.sleep(max(self.poll_delay(attempt), exc.retry_after or 0.0))
                attempt += 1
                continue
            state = status.get("status") if isinstance(status, dict) else None
            if state not in ("IN_QUEUE", "IN_PROGRESS"):
                if state is None:
                    raise BadResponse("fal: the status answer has no status", provider=self.name)
                error_type = status.get("error_type")
                return str(error_type) if error_type else None
            await asyncio.sleep(self.poll_delay(attempt))
            attempt += 1

    async def _cancel(self, cancel_url: str) -> None:
        """Ask fal to drop the request; never raises, and survives the caller's own cancellation."""

        async def put() -> None:
            with contextlib.suppress(ProviderError):
                await self._http.request("PUT", cancel_url, headers=self._auth(), timeout=CANCEL_TIMEOUT_S)

        task = asyncio.ensure_future(put())
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await asyncio.shield(task)

    # ------------------------------------------------------------------ images

    async def _images(self, result: dict[str, Any]) -> list[GeneratedImage]:
        entries = result.get("images")
        if not isinstance(entries, list) or not entries:
            raise BadResponse("fal: the result holds no images", provider=self.name)
        return list(await asyncio.gather(*(self._image(e) for e in entries)))

    async def _image(self, entry: Any) -> GeneratedImage:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise BadResponse("fal: an image entry has no url", provider=self.name)
        url: str = entry["url"]
        declared = entry.get("content_type") if isinstance(entry.get("content_type"), str) else None
        if url.startswith("data:"):
            head, _, payload = url.partition(",")
            try:
                data = base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadResponse("fal: an image data URI is not valid base64", provider=self.name) from exc
            declared = declared or head[5:].split(";")[0] or None
        else:
            resp = await self._http.request("GET", url)  # public CDN URL: no credentials
            if resp.status != 200:
                raise Unavailable(f"fal: downloading an output image failed (HTTP {resp.status})",
                                  provider=self.name, status=resp.status)
            data = resp.body
            declared = declared or resp.headers.get("Content-Type")
        if not data:
            raise BadResponse("fal: an output image is empty", provider=self.name)
        width, height = entry.get("width"), entry.get("height")
        return GeneratedImage(
            mime_type=sniff_mime(data, declared),
            data=data,
            width=width if isinstance(width, int) else None,
            height=height if isinstance(height, int) else None,
        )

    # ------------------------------------------------------------------ errors

    def _error(self, resp: UpstreamResponse, error_type: str | None = None) -> ProviderError:
        return map_error(self.name, resp.status, resp.body, resp.headers, error_type)

    async def aclose(self) -> None:
        await self._http.aclose()


def _detail_text(detail: Any) -> tuple[str, bool]:
    """The message of fal's ``detail`` and whether it is a content-policy refusal."""
    if isinstance(detail, str):
        return detail, False
    if isinstance(detail, list):
        msgs, policy = [], False
        for item in detail:
            if isinstance(item, dict):
                policy = policy or item.get("type") == "content_policy_violation"
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                msg = str(item.get("msg", ""))
                msgs.append(f"{loc}: {msg}" if loc else msg)
            else:
                msgs.append(str(item))
        return "; ".join(m for m in msgs if m), policy
    return "", False


def map_error(provider: str, status: int, body: bytes, headers: Any, error_type: str | None = None) -> ProviderError:
    """Turn one failed fal answer into a typed error (never echoing request headers)."""
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        data = None
    message, policy = _detail_text(data.get("detail")) if isinstance(data, dict) else ("", False)
    if isinstance(data, dict) and data.get("error_type"):
        error_type = str(data["error_type"])
    error_type = error_type or headers.get("X-Fal-Error-Type")
    message = message or f"HTTP {status}"
    text = f"fal: {message}" + (f" ({error_type})" if error_type else "")
    kw: dict[str, Any] = {"provider": provider, "status": status, "reason": error_type}
    retryable = (headers.get("X-Fal-Retryable") or "").strip().lower()
    if status in (401, 403):
        return AuthFailed(text, **kw)
    if policy:
        return ContentPolicy(text, **kw)
    transient = status == 429 or status >= 500 or status in (408, 409) or error_type in TIMEOUT_ERROR_TYPES
    if transient and retryable == "false":
        return ProviderInvalidRequest(text + " [not retryable]", **kw)
    if status == 429:
        return RateLimited(text, retry_after=retry_after_seconds(headers), **kw)
    if error_type in TIMEOUT_ERROR_TYPES or status in (408, 504):
        return Timeout(text, **kw)
    if status >= 500 or status == 409 or retryable == "true":
        return Unavailable(text, **kw)
    return ProviderInvalidRequest(text, **kw)

