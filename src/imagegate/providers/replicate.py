"""Replicate adapter: the official model ``google/nano-banana-pro`` (and models with the same input schema).

Flow (as replicate-python's ``run`` does it, checked against its source):
1. ``POST {base}/v1/models/{owner}/{name}/predictions`` with ``Prefer: wait=N`` (N <= 60 and below the call's
   remaining time) and ``Cancel-After`` (Replicate's server-side deadline: a backstop that ends the prediction even
   when we are cancelled before we learn its id).
2. The blocking answer may be terminal, may say ``processing`` with the output already set (it answers before the
   state turns terminal: we take that output), or ``starting`` (the wait ran out): then poll ``urls.get`` with
   exponential backoff and jitter until ``succeeded|failed|canceled``.
3. On our deadline, or when this coroutine is cancelled (client gone, hedge lost), ``POST urls.cancel`` (best effort,
   shielded) so that Replicate stops billing, then raise ``Timeout`` / re-raise ``CancelledError``.
4. Download the output URL (one image; a list is handled too), streamed and capped.

Input images go as data URLs up to ``data_url_max_bytes`` (Replicate's docs recommend data URIs only for files under
1 MB) and through the files API (``POST /v1/files``, multipart ``content``; the file's ``urls.get`` is the input)
above it. Error mapping: 401/403 -> AuthFailed; 402 (insufficient credit) -> AuthFailed with reason
``insufficient_credit`` (an account problem: other providers may still serve the request); 404/422/other 4xx ->
ProviderInvalidRequest; 429 -> RateLimited; 5xx -> Unavailable; a ``failed`` prediction with E005 / "flagged as
sensitive" -> ContentPolicy; other failures (E1000 unknown, E1001 OOM, E6716 start timeout, ...) -> Unavailable.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from PIL import Image

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
from imagegate.core.types import GeneratedImage, ImageResult, InputImage, Usage
from imagegate.providers.base import ProviderCall
from imagegate.providers.http import HttpTimeouts, UpstreamClient, UpstreamResponse, retry_after_seconds
from imagegate.settings import ProviderSettings

DEFAULT_BASE_URL = "https://api.replicate.com"
DATA_URL_MAX_BYTES = 1_000_000
MAX_PREFER_WAIT_S = 60
RESOLUTIONS = ("1K", "2K", "4K")
# Input fields of google/nano-banana-pro that ``request.extra`` may set; other extras are not sent.
EXTRA_INPUT_FIELDS = ("aspect_ratio", "resolution", "output_format", "safety_filter_level")
TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_ERROR_CODE = re.compile(r"\b(E\d{3,4})\b")
_MAX_POLL_ERRORS = 5
_CANCEL_TIMEOUT_S = 5.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """Exponential backoff with jitter between polls: ``initial_s`` growing by ``factor`` up to ``cap_s``."""

    initial_s: float = 0.5
    factor: float = 1.5
    cap_s: float = 5.0
    jitter: float = 0.2  # +-20 %

    def delays(self, rng: random.Random) -> Iterator[float]:
        delay = self.initial_s
        while True:
            yield max(0.0, delay * (1 + rng.uniform(-self.jitter, self.jitter)))
            delay = min(self.cap_s, delay * self.factor)


class ReplicateProvider:
    name = "replicate"

    def __init__(
        self,
        settings: ProviderSettings,
        *,
        poll: PollSchedule | None = None,
        sleep: Sleep = asyncio.sleep,
        data_url_max_bytes: int = DATA_URL_MAX_BYTES,
        rng: random.Random | None = None,
    ) -> None:
        self._token = settings.api_key or ""
        self._base = (settings.base_url or DEFAULT_BASE_URL).rstrip("/")
        self._http = UpstreamClient(
            self.name,
            HttpTimeouts(settings.connect_timeout_s, settings.read_timeout_s, settings.total_timeout_s),
        )
        scale = settings.poll_scale
        self._poll = poll or PollSchedule(initial_s=0.5 * scale, cap_s=5.0 * scale)
        self._sleep = sleep
        self._data_url_max = data_url_max_bytes
        self._rng = rng or random.Random()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------ the call

    async def generate(self, call: ProviderCall) -> ImageResult:
        started = time.perf_counter()
        request = call.request
        refs = await self._image_refs(request.images, call)
        body = {"input": build_input(call, refs)}
        remaining = call.remaining()
        if remaining < 1.0:
            raise Timeout("replicate: no time left to start a prediction", provider=self.name)
        headers = {
            **self._auth(),
            "Prefer": f"wait={max(1, min(MAX_PREFER_WAIT_S, math.floor(remaining - 0.5)))}",
            "Cancel-After": f"{max(5, math.ceil(remaining))}s",
        }
        url = f"{self._base}/v1/models/{call.offer.provider_model_id}/predictions"
        resp = await self._http.request("POST", url, headers=headers, json=body, timeout=remaining)
        self._raise_for_status(resp, creating=True)
        pred = _prediction(resp)
        try:
            final = await self._until_done(pred, call)
        except (asyncio.CancelledError, ProviderError):  # we give up while it may still run (and bill)
            await self._cancel_quietly(pred)
            raise
        output = self._output_of(final)
        image, ttfb_ms = await self._download(output, call, started)
        return ImageResult(
            images=[image],
            usage=Usage(input_images=len(request.images), output_images=1),
            provider_request_id=pred.get("id"),
            ttfb_ms=ttfb_ms,
        )

    async def _until_done(self, pred: dict[str, Any], call: ProviderCall) -> dict[str, Any]:
        """Poll ``urls.get`` until the prediction is terminal. The blocking answer counts as done when it says
        ``processing`` but already carries the output (it answers before the state turns terminal)."""
        if pred.get("status") == "processing" and _output_url(pred.get("output")):
            return pred
        delays = self._poll.delays(self._rng)
        errors = 0
        while pred.get("status") not in TERMINAL:
            await self._sleep(min(next(delays), _left(call)))
            try:
                resp = await self._http.request("GET", _url(pred, "get"), headers=self._auth(), timeout=_left(call))
                self._raise_for_status(resp, creating=False)
                pred = _prediction(resp)
                errors = 0
            except (RateLimited, Unavailable, BadResponse) as exc:  # the prediction still runs: keep polling
                errors += 1
                if errors >= _MAX_POLL_ERRORS:
                    raise
                if exc.retry_after:
                    await self._sleep(min(exc.retry_after, _left(call)))
        return pred

    def _output_of(self, pred: dict[str, Any]) -> str:
        """The output URL of a finished prediction, or the typed error of a failed one."""
        status, pid = pred.get("status"), pred.get("id")
        url = _output_url(pred.get("output"))
        if status in ("succeeded", "processing"):
            if not url:
                raise BadResponse(f"replicate: prediction {pid} succeeded without an output URL", provider=self.name)
            return url
        error = str(pred.get("error") or "")
        code_match = _ERROR_CODE.search(error)
        code = code_match.group(1) if code_match else None
        if status == "failed":
            if code == "E005" or "flagged as sensitive" in error.lower():
                raise ContentPolicy(f"replicate: {error[:300]}", provider=self.name, reason="E005")
            raise Unavailable(f"replicate: prediction {pid} failed: {error[:300]}", provider=self.name, reason=code)
        if status == "aborted":  # our Cancel-After deadline passed before it started
            raise Timeout(f"replicate: prediction {pid} aborted at its deadline", provider=self.name, reason="aborted")
        raise Unavailable(f"replicate: prediction {pid} was canceled upstream", provider=self.name, reason="canceled")

    async def _cancel_quietly(self, pred: dict[str, Any]) -> None:
        """Best-effort ``POST urls.cancel``, shielded so that our own cancellation cannot interrupt it."""
        if pred.get("status") in TERMINAL:
            return
        try:
            url = _url(pred, "cancel")
        except BadResponse:
            return

        async def cancel() -> None:
            with contextlib.suppress(ProviderError):
                await self._http.request("POST", url, headers=self._auth(), timeout=_CANCEL_TIMEOUT_S)

        await asyncio.shield(asyncio.ensure_future(cancel()))

    async def _download(self, url: str, call: ProviderCall, started: float) -> tuple[GeneratedImage, float]:
        headers = self._auth() if url.startswith(self._base + "/") else None  # never send the token elsewhere
        resp = await self._http.request("GET", url, headers=headers, timeout=_left(call))
        if resp.status >= 400:
            raise Unavailable(f"replicate: output download failed (HTTP {resp.status})", provider=self.name,
                              status=resp.status)
        mime = sniff_mime(resp.body) or resp.headers.get("Content-Type", "").split(";")[0].strip()
        if not mime.startswith("image/"):
            raise BadResponse("replicate: the output is not an image", provider=self.name)
        width = height = None
        with contextlib.suppress(Exception), Image.open(io.BytesIO(resp.body)) as img:  # header only, no decode
            width, height = img.size
        ttfb_ms = (time.perf_counter() - started) * 1000 - (resp.elapsed_ms - resp.ttfb_ms)
        return GeneratedImage(mime_type=mime, data=resp.body, width=width, height=height), ttfb_ms

    # ------------------------------------------------------------------ inputs

    async def _image_refs(self, images: list[InputImage], call: ProviderCall) -> list[str]:
        return list(await asyncio.gather(*(self._image_ref(img, call) for img in images)))

    async def _image_ref(self, image: InputImage, call: ProviderCall) -> str:
        if len(image.data) <= self._data_url_max:
            return f"data:{image.mime_type};base64,{base64.b64encode(image.data).decode()}"
        form = aiohttp.FormData()
        ext = image.mime_type.split("/")[-1]
        form.add_field("content", image.data, filename=image.filename or f"input.{ext}",
                       content_type=image.mime_type)
        resp = await self._http.request("POST", f"{self._base}/v1/files", headers=self._auth(), data=form,
                                        timeout=_left(call))
        self._raise_for_status(resp, creating=True)
        obj = resp.json()
        url = obj.get("urls", {}).get("get") if isinstance(obj, dict) else None
        if not isinstance(url, str):
            raise BadResponse("replicate: the files API answered without urls.get", provider=self.name)
        return url

    # ------------------------------------------------------------------ errors

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"}

    def _raise_for_status(self, resp: UpstreamResponse, *, creating: bool) -> None:
        status = resp.status
        if status < 400:
            return
        body: dict[str, Any] = {}
        with contextlib.suppress(BadResponse):
            parsed = resp.json()
            body = parsed if isinstance(parsed, dict) else {}
        detail = str(body.get("detail") or body.get("title") or f"HTTP {status}").strip()[:500]
        msg = f"replicate: {detail}"
        kw: dict[str, Any] = {"provider": self.name, "status": status}
        if status in (401, 403):
            raise AuthFailed(msg, **kw)
        if status == 402:
            raise AuthFailed(msg, reason="insufficient_credit", **kw)
        if status == 429:
            retry = retry_after_seconds(resp.headers)
            if retry is None and isinstance(body.get("retry_after"), int | float):
                retry = float(body["retry_after"])
            raise RateLimited(msg, retry_after=retry, **kw)
        if status >= 500 or (status == 404 and not creating):
            raise Unavailable(msg, **kw)
        raise ProviderInvalidRequest(msg, **kw)


def build_input(call: ProviderCall, image_refs: list[str]) -> dict[str, Any]:
    """The model input. Every optional field is sent: defaults differ between versions of the model."""
    request, spec = call.request, call.spec
    inp: dict[str, Any] = {"prompt": request.prompt}
    if image_refs:
        inp["image_input"] = image_refs
    inp["aspect_ratio"] = spec.aspect_ratio or ("match_input_image" if image_refs else "1:1")
    inp["resolution"] = spec.resolution if spec.resolution in RESOLUTIONS else "1K"
    inp["output_format"] = "jpg" if (request.output_format or "").lower() in ("jpeg", "jpg") else "png"
    inp["safety_filter_level"] = "block_only_high"
    for key in EXTRA_INPUT_FIELDS:
        if key in request.extra:
            inp[key] = request.extra[key]
    return inp


def sniff_mime(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _left(call: ProviderCall) -> float:
    """Seconds left for the next upstream step; the deadline passed is a ``Timeout``."""
    left = call.remaining()
    if left <= 0:
        raise Timeout("replicate: deadline reached", provider="replicate")
    return left


def _prediction(resp: UpstreamResponse) -> dict[str, Any]:
    try:
        pred = resp.json()
    except BadResponse as exc:
        raise BadResponse(f"replicate: {exc.message}", provider="replicate", status=resp.status) from exc
    if not isinstance(pred, dict) or not isinstance(pred.get("id"), str) or "status" not in pred:
        raise BadResponse("replicate: the answer is not a prediction", provider="replicate", status=resp.status)
    return pred


def _url(pred: dict[str, Any], key: str) -> str:
    url = (pred.get("urls") or {}).get(key)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise BadResponse(f"replicate: the prediction has no urls.{key}", provider="replicate")
    return url


def _output_url(output: Any) -> str | None:
    """This model's output is one URL; a list of URLs is accepted too (first one)."""
    if isinstance(output, list):
        output = next((o for o in output if isinstance(o, str) and o), None)
    return output if isinstance(output, str) and output else None
