"""``GenerateContentResponse`` bodies as Google sends them: thought parts, text, the image with its
``thoughtSignature``, ``usageMetadata`` with per-modality details; refusals; and the SSE stream form."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import math
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from imagegate.media.sizes import pixel_size
from imagegate.testing.fakes.common import make_image
from imagegate.testing.fakes.gemini.schema import ModelInfo
from imagegate.testing.fakes.gemini.state import GoogleFakeState

THOUGHT_TEXT = (
    "**Planning the composition**\n\nI'm working out the layout, the lighting and the details the "
    "prompt asks for before rendering the final image."
)
BLOCK_MESSAGE = (
    "Unable to show the generated image. The image was filtered out because it violated Google's "
    "Generative AI Prohibited Use policy. You will not be charged for blocked images. Try rephrasing "
    "the prompt. If you think this was an error, send feedback."
)
_IMAGE_CACHE_SIZE = 8


@dataclass(slots=True)
class Ask:
    """What one validated request asks for."""

    model: str
    info: ModelInfo
    prompt: str
    input_images: int
    aspect_ratio: str
    image_size: str
    mime_type: str  # output
    want_image: bool
    vertex: bool


def ask_of(req: dict[str, Any], model: str, info: ModelInfo, images: list[bytes], *, vertex: bool) -> Ask:
    gen = req.get("generationConfig") or {}
    image = gen.get("imageConfig") or {}
    texts = [p["text"] for c in req["contents"] for p in c["parts"] if isinstance(p.get("text"), str)]
    modalities = gen.get("responseModalities") or ["TEXT", "IMAGE"]
    mime = (image.get("imageOutputOptions") or {}).get("mimeType") or "image/png"
    return Ask(
        model=model,
        info=info,
        prompt="\n".join(texts),
        input_images=len(images),
        aspect_ratio=image.get("aspectRatio") or "1:1",
        image_size=image.get("imageSize") or "1K",
        mime_type=mime,
        want_image="IMAGE" in modalities,
        vertex=vertex,
    )


async def render_png(state: GoogleFakeState, width: int, height: int, fmt: str, seed_text: str) -> bytes:
    """Real image bytes (cached: a 4K PNG takes a moment to encode), rendered off the event loop."""
    key = (width, height, fmt, hashlib.sha256(seed_text.encode()).hexdigest())
    data = state.image_cache.get(key)
    if data is None:
        data = await asyncio.to_thread(make_image, width, height, fmt, seed_text)
        state.image_cache[key] = data
        while len(state.image_cache) > _IMAGE_CACHE_SIZE:
            state.image_cache.popitem(last=False)
    return data


def _text_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def usage(ask: Ask, *, text_out: str | None, image_out: bool, thoughts: int) -> dict[str, Any]:
    prompt_text = _text_tokens(ask.prompt)
    prompt_images = ask.input_images * ask.info.input_image_tokens
    prompt_details = [{"modality": "TEXT", "tokenCount": prompt_text}]
    if prompt_images:
        prompt_details.append({"modality": "IMAGE", "tokenCount": prompt_images})
    out_details: list[dict[str, Any]] = []
    if text_out:
        out_details.append({"modality": "TEXT", "tokenCount": _text_tokens(text_out)})
    if image_out:
        out_details.append({"modality": "IMAGE", "tokenCount": ask.info.output_image_tokens[ask.image_size]})
    candidates = sum(d["tokenCount"] for d in out_details)
    meta: dict[str, Any] = {
        "promptTokenCount": prompt_text + prompt_images,
        "candidatesTokenCount": candidates,
        "totalTokenCount": prompt_text + prompt_images + candidates + thoughts,
        "promptTokensDetails": prompt_details,
    }
    if out_details:
        meta["candidatesTokensDetails"] = out_details
    if thoughts:
        meta["thoughtsTokenCount"] = thoughts
    if ask.vertex:
        meta["trafficType"] = "ON_DEMAND"
    return meta


def envelope(ask: Ask, body: dict[str, Any], response_id: str) -> dict[str, Any]:
    body["modelVersion"] = ask.model
    if ask.vertex:
        body["createTime"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
    body["responseId"] = response_id
    return body


def new_response_id() -> str:
    return secrets.token_urlsafe(16)


async def success_chunks(state: GoogleFakeState, ask: Ask) -> list[dict[str, Any]]:
    """The answer as the stream's chunks (thought text, thought image, text, final image); the unary answer is
    their parts merged into one candidate."""
    response_id = new_response_id()
    fmt = "jpeg" if ask.mime_type == "image/jpeg" else "png"
    thoughts = 0
    groups: list[list[dict[str, Any]]] = []
    if ask.info.thinking:
        thoughts = 120 + len(ask.prompt) % 97
        tw, th = pixel_size(ask.aspect_ratio, "1K")
        interim = await render_png(state, max(16, tw // 4), max(16, th // 4), "png", "thought:" + ask.prompt)
        groups.append([{"text": THOUGHT_TEXT, "thought": True}])
        groups.append(
            [{"inlineData": {"mimeType": "image/png", "data": base64.b64encode(interim).decode()}, "thought": True}]
        )
    text_out = f"Here is the image you asked for: {ask.prompt[:80]}" if state.text_part or not ask.want_image else None
    if text_out:
        groups.append([{"text": text_out}])
    if ask.want_image:
        w, h = pixel_size(ask.aspect_ratio, ask.image_size)
        data = await render_png(state, w, h, fmt, ask.prompt)
        part: dict[str, Any] = {"inlineData": {"mimeType": ask.mime_type, "data": base64.b64encode(data).decode()}}
        if ask.info.thinking:
            part["thoughtSignature"] = base64.b64encode(hashlib.sha256(ask.prompt.encode()).digest()).decode()
        groups.append([part])
    meta = usage(ask, text_out=text_out, image_out=ask.want_image, thoughts=thoughts)
    chunks = []
    for i, parts in enumerate(groups):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        last = i == len(groups) - 1
        if last:
            cand["finishReason"] = "STOP"
        partial = {k: meta[k] for k in ("promptTokenCount", "promptTokensDetails")}
        chunks.append(
            envelope(
                ask,
                {
                    "candidates": [cand],
                    "usageMetadata": meta if last else {**partial, "totalTokenCount": partial["promptTokenCount"]},
                },
                response_id,
            )
        )
    return chunks


def merge(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """One unary answer from the stream's chunks."""
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    final = dict(chunks[-1])
    final["candidates"] = [{**chunks[-1]["candidates"][0], "content": {"role": "model", "parts": parts}}]
    return final


def refusal(state: GoogleFakeState, ask: Ask) -> dict[str, Any]:
    meta = usage(ask, text_out=None, image_out=False, thoughts=0)
    if state.block_via_prompt_feedback:
        body: dict[str, Any] = {"promptFeedback": {"blockReason": state.block_reason}, "usageMetadata": meta}
    else:
        body = {
            "candidates": [{"finishReason": state.block_reason, "index": 0, "finishMessage": BLOCK_MESSAGE}],
            "usageMetadata": meta,
        }
    return envelope(ask, body, new_response_id())


def truncated_body(ask: Ask) -> bytes:
    """A 200 answer cut short: the start of a real response, not valid JSON."""
    whole = orjson.dumps(
        envelope(
            ask,
            {
                "candidates": [
                    {
                        "content": {
                            "role": "model",
                            "parts": [
                                {
                                    "inlineData": {
                                        "mimeType": "image/png",
                                        "data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4",
                                    }
                                }
                            ],
                        },
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ]
            },
            new_response_id(),
        )
    )
    return whole[: len(whole) // 2]


def sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\r\n\r\n" for c in chunks)
