"""Request and response mapping shared by the Gemini API and Vertex AI adapters (same ``generateContent`` body).

Request: one user turn with the prompt text, every input image as ``inlineData`` (base64), and a mask (if any) as
one more image introduced by an instruction text; ``generationConfig`` asks for ``["TEXT", "IMAGE"]`` and carries
``imageConfig {aspectRatio, imageSize}`` from the render spec (omitted when None) and ``seed``.

Extras that pass through from ``request.extra`` (snake_case or camelCase keys; values are sent as given, since
Google's JSON parser accepts both casings inside them):
- into ``generationConfig``: temperature, top_p, top_k, max_output_tokens, stop_sequences, presence_penalty,
  frequency_penalty, thinking_config, media_resolution;
- top level: safety_settings, system_instruction (a string becomes a text part), tools, tool_config;
  Vertex only: labels;
- into ``imageConfig``, Vertex only: person_generation, prominent_people.
Other extras are not sent (Google refuses unknown fields with a 400).

Response: image parts that are not thoughts become ``GeneratedImage`` with the base64 text untouched; non-thought
text becomes ``ImageResult.text``; thought parts (reasoning text, interim images) are never returned.
"""

from __future__ import annotations

import base64
import contextlib
import re
from typing import Any

from imagegate.core.errors import (
    AuthFailed,
    BadResponse,
    ContentPolicy,
    ProviderInvalidRequest,
    RateLimited,
    Timeout,
    Unavailable,
)
from imagegate.core.slices import Slices
from imagegate.core.types import GeneratedImage, ImageResult, InputImage, Usage
from imagegate.media.formats import png_size
from imagegate.providers.b64lift import Lifted, resolve
from imagegate.providers.base import ProviderCall
from imagegate.providers.http import UpstreamResponse, retry_after_seconds

MASK_INSTRUCTION = (
    "The next image is an edit mask for the first image: change only the regions where the mask is transparent "
    "and keep everything else unchanged."
)
BLOCK_REASONS = frozenset(
    {
        "IMAGE_SAFETY",
        "SAFETY",
        "PROHIBITED_CONTENT",
        "IMAGE_PROHIBITED_CONTENT",
        "NO_IMAGE",
        "IMAGE_OTHER",
        "RECITATION",
        "IMAGE_RECITATION",
        "BLOCKLIST",
        "SPII",
    }
)
GENERATION_EXTRAS = (
    "temperature",
    "top_p",
    "top_k",
    "max_output_tokens",
    "stop_sequences",
    "presence_penalty",
    "frequency_penalty",
    "thinking_config",
    "media_resolution",
)
TOP_LEVEL_EXTRAS = ("safety_settings", "system_instruction", "tools", "tool_config")
VERTEX_TOP_LEVEL_EXTRAS = ("labels",)
VERTEX_IMAGE_EXTRAS = ("person_generation", "prominent_people")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _extra(extra: dict[str, Any], name: str) -> tuple[bool, Any]:
    """Look an extra up by its snake_case or camelCase name."""
    for key in (name, camel(name)):
        if key in extra:
            return True, extra[key]
    return False, None


def inline_image(image: InputImage) -> dict[str, Any]:
    return {"inlineData": {"mimeType": image.mime_type, "data": base64.b64encode(image.data).decode("ascii")}}


def build_body(call: ProviderCall, *, vertex: bool) -> dict[str, Any]:
    """The ``generateContent`` request body for one call."""
    request, spec = call.request, call.spec
    parts: list[dict[str, Any]] = [{"text": request.prompt}]
    parts.extend(inline_image(img) for img in request.images)
    if request.mask is not None:
        parts.append({"text": MASK_INSTRUCTION})
        parts.append(inline_image(request.mask))
    image_config: dict[str, Any] = {}
    if spec.aspect_ratio:
        image_config["aspectRatio"] = spec.aspect_ratio
    if spec.resolution:
        image_config["imageSize"] = spec.resolution
    generation: dict[str, Any] = {"responseModalities": ["TEXT", "IMAGE"]}
    if request.seed is not None:
        generation["seed"] = request.seed
    body: dict[str, Any] = {"contents": [{"role": "user", "parts": parts}]}
    extra = request.extra
    for name in GENERATION_EXTRAS:
        found, value = _extra(extra, name)
        if found:
            generation[camel(name)] = value
    for name in TOP_LEVEL_EXTRAS + (VERTEX_TOP_LEVEL_EXTRAS if vertex else ()):
        found, value = _extra(extra, name)
        if found:
            if name == "system_instruction" and isinstance(value, str):
                value = {"parts": [{"text": value}]}
            body[camel(name)] = value
    if vertex:
        for name in VERTEX_IMAGE_EXTRAS:
            found, value = _extra(extra, name)
            if found:
                image_config[camel(name)] = value
        fmt = (request.output_format or "").lower()
        if fmt in ("jpeg", "jpg", "png"):
            options: dict[str, Any] = {"mimeType": "image/jpeg" if fmt in ("jpeg", "jpg") else "image/png"}
            if fmt != "png" and request.output_compression is not None:
                options["compressionQuality"] = request.output_compression
            image_config["imageOutputOptions"] = options
    if image_config:
        generation["imageConfig"] = image_config
    body["generationConfig"] = generation
    return body


# --------------------------------------------------------------------------- responses


def parse_response(data: Any, provider: str, *, input_images: int, lifted: list[Lifted] | None = None) -> ImageResult:
    """Map a ``GenerateContentResponse`` to an ``ImageResult``; refusals raise ``ContentPolicy``."""
    if not isinstance(data, dict):
        raise BadResponse(f"{provider}: the answer is not a GenerateContentResponse", provider=provider)
    candidates = data.get("candidates") or []
    if not isinstance(candidates, list):
        raise BadResponse(f"{provider}: candidates is not a list", provider=provider)
    images: list[GeneratedImage] = []
    texts: list[str] = []
    finish: str | None = None
    finish_message = ""
    for cand in candidates:
        if not isinstance(cand, dict):
            continue
        finish = finish or cand.get("finishReason")
        finish_message = finish_message or str(cand.get("finishMessage") or "")
        for part in (cand.get("content") or {}).get("parts") or []:
            if not isinstance(part, dict) or part.get("thought"):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            b64 = resolve(inline.get("data"), lifted or []) if isinstance(inline, dict) else None
            if isinstance(inline, dict) and isinstance(b64, str | memoryview | Slices):
                mime = inline.get("mimeType") or inline.get("mime_type") or "image/png"
                size = png_size(b64) if mime == "image/png" else None
                images.append(
                    GeneratedImage(
                        mime_type=mime, b64=b64, width=size[0] if size else None, height=size[1] if size else None
                    )
                )
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
    usage = usage_from(data.get("usageMetadata"), input_images=input_images, output_images=len(images))
    if not images:
        block = (data.get("promptFeedback") or {}).get("blockReason")
        reason = block or finish
        if reason in BLOCK_REASONS or block:
            detail = finish_message or (data.get("promptFeedback") or {}).get("blockReasonMessage") or ""
            msg = f"{provider}: the request was refused ({reason})" + (f": {str(detail)[:300]}" if detail else "")
            raise ContentPolicy(msg, provider=provider, reason=str(reason))
        raise BadResponse(
            f"{provider}: the answer holds no image (finishReason {finish})",
            provider=provider,
            reason=str(finish) if finish else None,
        )
    text = "\n".join(t for t in texts if t.strip()) or None
    return ImageResult(images=images, usage=usage, text=text, provider_request_id=data.get("responseId"))


def usage_from(meta: Any, *, input_images: int, output_images: int) -> Usage:
    """``usageMetadata`` -> ``Usage``. Thinking tokens are billed as output text (and also kept apart)."""
    usage = Usage(input_images=input_images, output_images=output_images)
    if not isinstance(meta, dict):
        return usage
    usage.reported = True
    prompt = _int(meta.get("promptTokenCount"))
    by_mod = _by_modality(meta.get("promptTokensDetails"))
    usage.input_image_tokens = by_mod.get("IMAGE", 0)
    usage.input_text_tokens = max(prompt - usage.input_image_tokens, sum(by_mod.values()) - usage.input_image_tokens)
    usage.cached_input_tokens = _int(meta.get("cachedContentTokenCount"))
    candidates = _int(meta.get("candidatesTokenCount"))
    out_mod = _by_modality(meta.get("candidatesTokensDetails"))
    if out_mod:
        usage.output_image_tokens = out_mod.get("IMAGE", 0)
        usage.output_text_tokens = max(candidates, sum(out_mod.values())) - usage.output_image_tokens
    elif output_images:
        usage.output_image_tokens = candidates
    else:
        usage.output_text_tokens = candidates
    thoughts = _int(meta.get("thoughtsTokenCount"))
    usage.thoughts_tokens = thoughts
    usage.output_text_tokens += thoughts
    return usage


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value > 0 else 0


def _by_modality(details: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in details if isinstance(details, list) else ():
        if isinstance(item, dict):
            mod = str(item.get("modality") or "TEXT")
            out[mod] = out.get(mod, 0) + _int(item.get("tokenCount"))
    return out


# --------------------------------------------------------------------------- errors


def error_of(resp: UpstreamResponse) -> tuple[str, str, list[Any]]:
    """(status, message, details) of Google's error envelope; empty strings when the body is not one."""
    with contextlib.suppress(BadResponse):
        body = resp.json()
        err = body.get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            details = err.get("details")
            return (
                str(err.get("status") or ""),
                str(err.get("message") or ""),
                details if isinstance(details, list) else [],
            )
    return "", "", []


def retry_delay(details: list[Any]) -> float | None:
    """``google.rpc.RetryInfo.retryDelay`` ("41.5s") in seconds."""
    for d in details:
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            match = _DURATION.match(str(d.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def error_reasons(details: list[Any]) -> list[str]:
    return [str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason")]


def raise_for_status(resp: UpstreamResponse, provider: str) -> None:
    """Map an HTTP error answer onto the typed provider errors (message from the body only, never headers)."""
    code = resp.status
    if code < 400:
        return
    status, message, details = error_of(resp)
    reasons = error_reasons(details)
    msg = f"{provider}: HTTP {code} {status or ''} {message[:400]}".rstrip()
    kw: dict[str, Any] = {"provider": provider, "status": code, "reason": status or None}
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        retry = retry_delay(details)
        raise RateLimited(msg, retry_after=retry if retry is not None else retry_after_seconds(resp.headers), **kw)
    if code in (401, 403) or "API_KEY_INVALID" in reasons or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        raise AuthFailed(msg, **kw)
    if code >= 500:
        raise Unavailable(msg, **kw)
    if code == 408 or status == "DEADLINE_EXCEEDED":
        raise Timeout(msg, **kw)
    raise ProviderInvalidRequest(msg, **kw)


def result_of(resp: UpstreamResponse, call: ProviderCall, provider: str) -> ImageResult:
    """A successful answer's ``ImageResult`` (with ttfb), or the typed error of a failed one."""
    raise_for_status(resp, provider)
    try:
        data, lifted = resp.json_lifting(b"data")
    except BadResponse as exc:
        raise BadResponse(f"{provider}: {exc.message}", provider=provider, status=resp.status) from exc
    request = call.request
    result = parse_response(
        data, provider, input_images=len(request.images) + (request.mask is not None), lifted=lifted
    )
    result.ttfb_ms = resp.ttfb_ms
    return result
