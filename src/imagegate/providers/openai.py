"""OpenAI Images API adapter (``gpt-image-1`` and its family).

- Base URL: ``IMAGEGATE_OPENAI_BASE_URL`` *includes* the API version, like the openai SDK's ``base_url`` /
  ``OPENAI_BASE_URL`` (default ``https://api.openai.com/v1``); calls go to ``{base}/images/generations`` (JSON) and
  ``{base}/images/edits`` (multipart: ``image`` for one input, repeated ``image[]`` for several, ``mask``).
- ``b64_json`` is passed through untouched (never decoded); the mime type comes from the answered ``output_format``.
- Usage is reported: ``input_tokens_details`` (text / image) and ``output_tokens`` (image tokens, or split by
  ``output_tokens_details`` when the model reports text output too).
- Errors in ``{"error": {"message", "type", "param", "code"}}``: ``moderation_blocked`` / ``content_policy_violation``
  -> ``ContentPolicy``; 401/403 -> ``AuthFailed``; 429 -> ``RateLimited`` with ``retry-after-ms`` / ``retry-after``,
  except ``insufficient_quota``: that is the account's billing state, not a transient limit, so it is ``AuthFailed``
  (fail over to another provider now, do not wait and retry here); 408 -> ``Timeout``; 409 / 5xx -> ``Unavailable``;
  other 4xx -> ``ProviderInvalidRequest``.
"""

from __future__ import annotations

from typing import Any

import aiohttp
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
from imagegate.core.slices import Slices
from imagegate.core.types import GeneratedImage, ImageResult, InputImage, RenderSpec, Usage
from imagegate.providers.b64lift import resolve
from imagegate.providers.base import ProviderCall
from imagegate.providers.http import HttpTimeouts, UpstreamClient, UpstreamResponse, retry_after_seconds
from imagegate.settings import ProviderSettings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
OPENAI_MAX_N = 10
OUTPUT_FORMATS = ("png", "jpeg", "webp")
QUALITY = {"low": "low", "medium": "medium", "high": "high", "auto": "auto", "standard": "medium", "hd": "high"}
BACKGROUNDS = ("transparent", "opaque", "auto")
# request.extra fields the Images API knows, per operation
EXTRA_FIELDS = {"generate": ("moderation", "safety_identifier"), "edit": ("input_fidelity", "safety_identifier")}
POLICY_CODES = ("moderation_blocked", "content_policy_violation")
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def map_size(spec: RenderSpec, sizes: tuple[str, ...]) -> str | None:
    """The ``size`` to send: ``auto`` when the spec leaves shape and scale to the provider, else the listed WxH."""
    exact = f"{spec.width}x{spec.height}"
    if not sizes:
        return exact if spec.exact_size else None
    if spec.aspect_ratio is None and spec.resolution is None and "auto" in sizes:
        return "auto"
    if exact in sizes:
        return exact
    return "auto" if "auto" in sizes else exact


class OpenAIProvider:
    name = "openai"
    streams_partials = True  # relays partial images (one image per streamed call)

    def __init__(self, settings: ProviderSettings) -> None:
        self._key = settings.api_key or ""
        self.base_url = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        timeouts = HttpTimeouts(settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s)
        self._http = UpstreamClient(self.name, timeouts)

    async def generate(self, call: ProviderCall) -> ImageResult:
        if not self._key:
            raise AuthFailed("openai: OPENAI_API_KEY is not set", provider=self.name)
        if not 1 <= call.n <= OPENAI_MAX_N:
            raise ProviderInvalidRequest(f"openai: n must be 1-{OPENAI_MAX_N}, not {call.n}", provider=self.name)
        if call.remaining() <= 0:
            raise Timeout("openai: the deadline passed before the call started", provider=self.name)
        params = self._params(call)
        headers = {"Authorization": f"Bearer {self._key}"}
        partial_images = call.request.extra.get("partial_images")
        if call.partials is not None and partial_images:  # the client streams: relay partial images
            from imagegate.providers.openai_stream import stream_images

            params = {**params, "stream": True, "partial_images": partial_images}
            form = self._form(call, params) if call.request.operation == "edit" else None
            return await stream_images(self, call, params, headers, form)
        if call.request.operation == "edit":
            resp = await self._http.request(
                "POST", f"{self.base_url}/images/edits", headers=headers, data=self._form(call, params)
            )
        else:
            resp = await self._http.request("POST", f"{self.base_url}/images/generations", headers=headers, json=params)
        if resp.status != 200:
            raise map_error(self.name, resp)
        return self._result(call, resp, params.get("output_format"))

    # ------------------------------------------------------------------ request

    def _params(self, call: ProviderCall) -> dict[str, Any]:
        req, offer = call.request, call.offer
        params: dict[str, Any] = {"model": offer.provider_model_id, "prompt": req.prompt, "n": call.n}
        size = map_size(call.spec, offer.capabilities.sizes)
        if size is not None:
            params["size"] = size
        if req.quality and req.quality.lower() in QUALITY:
            params["quality"] = QUALITY[req.quality.lower()]
        fmt = "jpeg" if req.output_format == "jpg" else req.output_format
        if fmt in OUTPUT_FORMATS and fmt in offer.capabilities.output_formats:
            params["output_format"] = fmt
            if req.output_compression is not None and fmt in ("jpeg", "webp"):
                params["output_compression"] = req.output_compression
        if req.background in BACKGROUNDS:
            params["background"] = req.background
        if req.user:
            params["user"] = req.user
        for name in EXTRA_FIELDS[req.operation]:
            if req.extra.get(name) is not None:
                params[name] = req.extra[name]
        return params

    def _form(self, call: ProviderCall, params: dict[str, Any]) -> aiohttp.FormData:
        req = call.request
        if not req.images:
            raise ProviderInvalidRequest("openai: an edit needs at least one input image", provider=self.name)
        form = aiohttp.FormData(quote_fields=False)
        for key, value in params.items():
            form.add_field(key, str(value).lower() if isinstance(value, bool) else str(value))
        field = "image" if len(req.images) == 1 else "image[]"
        for i, img in enumerate(req.images):
            self._add_file(form, field, img, f"image_{i}")
        if req.mask is not None:
            self._add_file(form, "mask", req.mask, "mask")
        return form

    @staticmethod
    def _add_file(form: aiohttp.FormData, field: str, img: InputImage, stem: str) -> None:
        name = img.filename or f"{stem}.{_EXT.get(img.mime_type, 'png')}"
        form.add_field(field, img.data, filename=name, content_type=img.mime_type)

    # ------------------------------------------------------------------ response

    def _result(self, call: ProviderCall, resp: UpstreamResponse, asked_format: str | None) -> ImageResult:
        body, lifted = resp.json_lifting(b"b64_json")
        entries = body.get("data") if isinstance(body, dict) else None
        if not isinstance(entries, list) or not entries:
            raise BadResponse("openai: the answer holds no images", provider=self.name, status=resp.status)
        fmt = body.get("output_format") or asked_format or "png"
        mime = _MIME.get(fmt, "image/png")
        width = height = None
        size = body.get("size")
        if isinstance(size, str) and "x" in size:
            w, _, h = size.partition("x")
            if w.isdigit() and h.isdigit():
                width, height = int(w), int(h)
        images, text = [], None
        for entry in entries:
            b64 = resolve(entry.get("b64_json"), lifted) if isinstance(entry, dict) else None
            if not isinstance(b64, str | memoryview | Slices) or not b64:
                raise BadResponse("openai: an image entry has no b64_json", provider=self.name, status=resp.status)
            images.append(GeneratedImage(mime_type=mime, b64=b64, width=width, height=height))
            text = text or entry.get("revised_prompt") or None
        return ImageResult(
            images=images,
            usage=self._usage(body.get("usage"), len(images), len(call.request.images)),
            text=text,
            provider_request_id=resp.headers.get("x-request-id"),
            ttfb_ms=resp.ttfb_ms,
        )

    @staticmethod
    def _usage(raw: Any, outputs: int, inputs: int) -> Usage:
        usage = Usage(output_images=outputs, input_images=inputs)
        if not isinstance(raw, dict):
            return usage
        usage.reported = True
        in_details = raw.get("input_tokens_details") or {}
        if in_details:
            usage.input_text_tokens = int(in_details.get("text_tokens") or 0)
            usage.input_image_tokens = int(in_details.get("image_tokens") or 0)
            usage.cached_input_tokens = int(in_details.get("cached_tokens") or 0)
        else:
            usage.input_text_tokens = int(raw.get("input_tokens") or 0)
        out_details = raw.get("output_tokens_details") or {}
        if out_details:
            usage.output_image_tokens = int(out_details.get("image_tokens") or 0)
            usage.output_text_tokens = int(out_details.get("text_tokens") or 0)
        else:
            usage.output_image_tokens = int(raw.get("output_tokens") or 0)
        return usage

    async def aclose(self) -> None:
        await self._http.aclose()


def map_error(provider: str, resp: UpstreamResponse) -> ProviderError:
    """Turn one failed OpenAI answer into a typed error (built from the body, never from our headers)."""
    try:
        body = orjson.loads(resp.body) if resp.body else None
    except orjson.JSONDecodeError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    err = err if isinstance(err, dict) else {}
    code = err.get("code") if isinstance(err.get("code"), str) else None
    message = str(err.get("message") or f"HTTP {resp.status}")
    text = f"openai: {message}"
    kw: dict[str, Any] = {"provider": provider, "status": resp.status, "reason": code or err.get("type")}
    status = resp.status
    if code in POLICY_CODES:
        return ContentPolicy(text, **kw)
    if status in (401, 403) or code == "insufficient_quota":
        return AuthFailed(text, **kw)
    if status == 429:
        return RateLimited(text, retry_after=retry_after_seconds(resp.headers), **kw)
    if status == 408:
        return Timeout(text, **kw)
    if status >= 500 or status == 409:
        return Unavailable(text, **kw)
    return ProviderInvalidRequest(text, **kw)
