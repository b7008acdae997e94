"""The fake OpenAI Images API's streaming answer (``stream: true``), shaped as the real API sends it.

``event: image_generation.partial_image`` (or ``image_edit.``) + ``data: {type, b64_json, partial_image_index,
created_at, size, quality, background, output_format}`` for each partial image, then ``*.completed`` with the final
image and ``usage``; no ``[DONE]``. Partial images are the final image's size, drawn progressively (the prompt's
colour with a growing band). ``OpenAIFakeState.stream_fault``: ``"error"`` ends the stream with an ``error`` event
after the first partial, ``"cut"`` drops the connection there.
"""

from __future__ import annotations

import asyncio
import base64
import io
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from PIL import Image

from imagegate.testing.fakes.common import abort_connection

if TYPE_CHECKING:
    from imagegate.testing.fakes.openai import OpenAIFakeState

_PIL = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def _partial(final_b64: str, fmt: str, index: int, total: int) -> str:
    """A partial rendering of the final image: its top (index + 1) / (total + 1) kept, the rest grey."""
    with Image.open(io.BytesIO(base64.b64decode(final_b64))) as opened:
        img = opened.convert("RGB")
        kept = img.height * (index + 1) // (total + 1)
        out = Image.new("RGB", img.size, (128, 128, 128))
        out.paste(img.crop((0, 0, img.width, kept)), (0, 0))
        buf = io.BytesIO()
        out.save(buf, format=_PIL[fmt])
    return base64.b64encode(buf.getvalue()).decode()


def _event(kind: str, obj: dict[str, Any]) -> bytes:
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


async def stream_answer(
    request: web.Request, state: OpenAIFakeState, answer: dict[str, Any], p: dict[str, Any], *, edit: bool
) -> web.StreamResponse:
    prefix = "image_edit" if edit else "image_generation"
    common = {"size": answer["size"], "quality": answer["quality"], "background": answer["background"],
              "output_format": answer["output_format"]}  # fmt: skip
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                       "x-request-id": f"req_{time.time_ns():x}"})  # fmt: skip
    await resp.prepare(request)
    outcome = "client_gone"  # unless the stream ends as planned: a write failed, the client went away
    try:
        outcome = await _send(request, resp, state, answer, p, prefix, common)
    except ConnectionResetError:
        if state.stream_fault == "cut":
            outcome = "cut"
            raise
    finally:
        state.stream_outcomes.append(outcome)
    return resp


async def _send(
    request: web.Request, resp: web.StreamResponse, state: OpenAIFakeState, answer: dict[str, Any],
    p: dict[str, Any], prefix: str, common: dict[str, Any],
) -> str:  # fmt: skip
    final = answer["data"][0]["b64_json"]
    total = p["partial_images"]
    for i in range(total):
        if i:
            await asyncio.sleep(state.partial_interval_s)
        b64 = await asyncio.to_thread(_partial, final, p["format"], i, total)
        obj = {"type": f"{prefix}.partial_image", "b64_json": b64, "partial_image_index": i,
               "created_at": int(time.time()), **common}  # fmt: skip
        await resp.write(_event(f"{prefix}.partial_image", obj))
        if i == 0 and state.stream_fault == "cut":
            abort_connection(request)
        if i == 0 and state.stream_fault == "error":
            err = {"message": "The server had an error while processing your request.", "type": "server_error",
                   "param": None, "code": None}  # fmt: skip
            await resp.write(_event("error", {"type": "error", "error": err}))
            await resp.write_eof()
            return "error"
    await asyncio.sleep(state.partial_interval_s if total else 0)
    done = {"type": f"{prefix}.completed", "b64_json": final, "created_at": int(time.time()), **common,
            "usage": answer["usage"]}  # fmt: skip
    await resp.write(_event(f"{prefix}.completed", done))
    await resp.write_eof()
    return "completed"
