"""A protocol-faithful fake of OpenAI's Images API (``gpt-image-1``).

- ``POST /v1/images/generations`` (JSON) and ``POST /v1/images/edits`` (multipart: one file as ``image``, several as
  repeated ``image[]`` parts, an optional ``mask`` of the first image's size, scalars as form strings).
- ``GET /v1/models`` and ``GET /v1/models/{id}``.
- Validation as OpenAI does it: Bearer auth (401 ``invalid_api_key``), ``Missing required parameter``, ``Unknown
  parameter: 'x'.`` (``unknown_parameter``), enums per model with ``invalid_value``, ``n`` 1-10 and
  ``output_compression`` 0-100 with ``integer_below_min_value`` / ``integer_above_max_value``.
- Answers real images as ``b64_json`` in the asked ``output_format`` plus ``usage`` (tokens from quality and size,
  input image tokens from 512 px tiles), and an ``x-request-id`` header.
- ``stream: true`` with ``partial_images`` 0-3 answers ``text/event-stream`` as the real API does
  (``testing/fakes/openai_stream.py``): ``image_generation.partial_image`` / ``image_edit.partial_image`` events, then
  ``*.completed`` with ``usage`` (each partial bills 100 more output tokens); n=1 only.

Faults (``imagegate.testing.faults``), one draw per image request: ``rate_limited`` (429 with ``retry-after``,
``retry-after-ms`` and ``x-ratelimit-*``), ``server_error`` (500), ``unavailable`` (503), ``content_policy`` (400
``moderation_blocked``), ``malformed``, ``timeout``, ``reset``. ``OpenAIFakeState.quota_exhausted`` answers 429
``insufficient_quota``.

Benchmarks: ``fixed_payload_bytes=N`` (``--fixed-image-bytes N``) answers every image request with one precomputed
body holding an image of about N bytes, doing no per-request image work.

Run: ``python -m imagegate.testing.fakes.openai --port 9105 --api-key KEY [--fixed-image-bytes 2048]``.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import BodyPartReader, web
from PIL import Image

from imagegate.testing.fakes.common import FakeState, abort_connection, make_image, profile_from_cli, send_body
from imagegate.testing.fakes.fal import wait_for_timeout_fault
from imagegate.testing.faults import Decision, FaultInjector

SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
MODELS: dict[str, dict[str, tuple[str, ...]]] = {
    "gpt-image-1": {"size": SIZES},
    "gpt-image-1-mini": {"size": SIZES},
    "gpt-image-1.5": {"size": SIZES},
}
ENUMS: dict[str, tuple[str, ...]] = {
    "quality": ("low", "medium", "high", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "background": ("transparent", "opaque", "auto"),
    "moderation": ("low", "auto"),
    "input_fidelity": ("high", "low"),
    "response_format": ("b64_json",),  # GPT image models always answer base64
}
COMMON = {
    "prompt",
    "model",
    "n",
    "size",
    "quality",
    "response_format",
    "output_format",
    "output_compression",
    "background",
    "user",
    "stream",
    "partial_images",
    "safety_identifier",
}
GENERATE_PARAMS = COMMON | {"moderation"}
EDIT_PARAMS = COMMON | {"image", "image[]", "mask", "input_fidelity"}
# output image tokens by quality and size (OpenAI's published table)
OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1536x1024": 408, "1024x1536": 400},
    "medium": {"1024x1024": 1056, "1536x1024": 1584, "1024x1536": 1568},
    "high": {"1024x1024": 4160, "1536x1024": 6240, "1024x1536": 6208},
}
MAX_IMAGES = 16
MAX_IMAGE_BYTES = 50 * 1024 * 1024
MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


class FakeAPIError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type_: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def response(self) -> web.Response:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        headers = {"x-request-id": f"req_{uuid.uuid4().hex}", **self.headers}
        return web.Response(
            body=orjson.dumps(body), status=self.status, content_type="application/json", headers=headers
        )


@dataclass
class OpenAIFakeState(FakeState):
    api_key: str = "sk-fake-openai-key-for-tests"
    quota_exhausted: bool = False
    fixed_payload_bytes: int | None = None
    partial_interval_s: float = 0.02  # streaming: the pause before each partial image after the first
    stream_fault: str | None = None  # streaming: after the first partial, "error" sends an error event, "cut" drops
    stream_outcomes: list[str] = field(default_factory=list)  # per stream: "completed", "error", "client_gone"
    _images: dict[tuple[int, int, str, str], bytes] = field(default_factory=dict)
    _fixed: dict[int, bytes] = field(default_factory=dict)  # n -> precomputed body

    def image(self, width: int, height: int, fmt: str, text: str) -> bytes:
        key = (width, height, fmt, text)
        if key not in self._images:
            self._images[key] = make_image(width, height, fmt, text)
        return self._images[key]


# --------------------------------------------------------------------------- validation


def _invalid_value(param: str, value: Any, allowed: tuple[str, ...]) -> FakeAPIError:
    listed = ", ".join(f"'{a}'" for a in allowed[:-1]) + (
        f", and '{allowed[-1]}'" if len(allowed) > 1 else f"'{allowed[0]}'"
    )
    return FakeAPIError(
        400, f"Invalid value: '{value}'. Supported values are: {listed}.", param=param, code="invalid_value"
    )


def _int(params: dict[str, Any], name: str, low: int, high: int) -> int | None:
    if name not in params or params[name] is None:
        return None
    value = params[name]
    if isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            value = None
    if not isinstance(value, int) or isinstance(value, bool):
        raise FakeAPIError(
            400,
            f"Invalid type for '{name}': expected an integer, but got a string instead.",
            param=name,
            code="invalid_type",
        )
    if value < low:
        raise FakeAPIError(
            400,
            f"Invalid '{name}': integer below minimum value. Expected a value >= {low}, but got {value} instead.",
            param=name,
            code="integer_below_min_value",
        )
    if value > high:
        raise FakeAPIError(
            400,
            f"Invalid '{name}': integer above maximum value. Expected a value <= {high}, but got {value} instead.",
            param=name,
            code="integer_above_max_value",
        )
    return value


def validate(params: dict[str, Any], allowed_params: set[str]) -> dict[str, Any]:
    """Check the parameters; return the normalised ones (model, n, size, quality, output_format, background)."""
    for key in params:
        if key not in allowed_params:
            raise FakeAPIError(400, f"Unknown parameter: '{key}'.", param=key, code="unknown_parameter")
    prompt = params.get("prompt")
    if prompt is None:
        raise FakeAPIError(
            400, "Missing required parameter: 'prompt'.", param="prompt", code="missing_required_parameter"
        )
    if not isinstance(prompt, str) or not prompt:
        raise FakeAPIError(
            400,
            "Invalid 'prompt': empty string. Expected a string with minimum length 1.",
            param="prompt",
            code="empty_string",
        )
    model = params.get("model") or "gpt-image-1"
    if model not in MODELS:
        raise FakeAPIError(
            400,
            f"Invalid value: '{model}'. Supported values are: " + ", ".join(f"'{m}'" for m in MODELS) + ".",
            param="model",
            code="invalid_value",
        )
    n = _int(params, "n", 1, 10) or 1
    _int(params, "output_compression", 0, 100)
    size = params.get("size") or "auto"
    if size not in MODELS[model]["size"]:
        raise _invalid_value("size", size, MODELS[model]["size"])
    for name, allowed in ENUMS.items():
        if params.get(name) is not None and params[name] not in allowed:
            raise _invalid_value(name, params[name], allowed)
    stream = params.get("stream") in (True, "true")
    partial_images = _int(params, "partial_images", 0, 3) or 0
    if stream and n > 1:
        raise FakeAPIError(400, "Streaming supports n=1 only in this fake.", param="n", code="invalid_value")
    fmt = params.get("output_format") or "png"
    background = params.get("background") or "auto"
    if background == "transparent" and fmt == "jpeg":
        raise FakeAPIError(
            400,
            "Transparent background is not supported for output_format 'jpeg'.",
            param="background",
            code="invalid_value",
        )
    quality = params.get("quality") or "auto"
    return {
        "model": model,
        "prompt": prompt,
        "n": n,
        "size": size,
        "format": fmt,
        "background": background,
        "quality": "medium" if quality == "auto" else quality,
        "stream": stream,
        "partial_images": partial_images,
    }


def _image_tokens(width: int, height: int) -> int:
    """Input image tokens: fit in 2048x2048, shortest side 768, then 170 per 512 px tile plus 85."""
    scale = min(1.0, 2048 / max(width, height))
    w, h = width * scale, height * scale
    scale = 768 / min(w, h)
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def _answer(state: OpenAIFakeState, p: dict[str, Any], inputs: list[tuple[int, int]]) -> dict[str, Any]:
    size = p["size"]
    if size == "auto":
        size = "1024x1024"
        if inputs:
            w, h = inputs[0]
            size = "1536x1024" if w / h > 1.2 else "1024x1536" if h / w > 1.2 else "1024x1024"
    width, height = (int(x) for x in size.split("x"))
    data = [
        {"b64_json": base64.b64encode(state.image(width, height, p["format"], f"{p['prompt']}#{i}")).decode()}
        for i in range(p["n"])
    ]
    text_tokens = max(1, math.ceil(len(p["prompt"]) / 4))
    image_tokens = sum(_image_tokens(w, h) for w, h in inputs)
    output_tokens = OUTPUT_TOKENS[p["quality"]][size] * p["n"]
    if p.get("stream"):
        output_tokens += 100 * p.get("partial_images", 0)  # each partial image bills 100 output tokens
    return {
        "created": int(time.time()),
        "data": data,
        "background": "transparent" if p["background"] == "transparent" else "opaque",
        "output_format": p["format"],
        "quality": p["quality"],
        "size": size,
        "usage": {
            "input_tokens": text_tokens + image_tokens,
            "input_tokens_details": {"image_tokens": image_tokens, "text_tokens": text_tokens},
            "output_tokens": output_tokens,
            "total_tokens": text_tokens + image_tokens + output_tokens,
        },
    }


# --------------------------------------------------------------------------- request reading


def _check_image(name: str, raw: bytes) -> tuple[int, int]:
    if len(raw) > MAX_IMAGE_BYTES:
        raise FakeAPIError(
            400, f"Invalid '{name}': file too large, the maximum is 50MB.", param=name, code="invalid_image_file"
        )
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in ("PNG", "JPEG", "WEBP"):
                raise ValueError(img.format)
            return img.size
    except Exception as exc:  # noqa: BLE001 - anything unreadable is the client's bad file
        raise FakeAPIError(
            400,
            f"Invalid image file or mode for image {name}, please check your image file.",
            param=name,
            code="invalid_image_file",
        ) from exc


async def _read_multipart(request: web.Request) -> tuple[dict[str, Any], list[bytes], bytes | None]:
    if not request.content_type.startswith("multipart/form-data"):
        raise FakeAPIError(
            400,
            "Invalid Content-Type header (application/json), expected multipart/form-data.",
            code="invalid_content_type",
        )
    params: dict[str, Any] = {}
    images: list[bytes] = []
    mask = None
    parts: list[str] = []
    reader = await request.multipart()
    async for part in reader:
        assert isinstance(part, BodyPartReader)  # a flat form: no nested multiparts
        name = part.name or ""
        parts.append(name)
        if name in ("image", "image[]"):
            images.append(await part.read())  # type: ignore[union-attr]
            params[name] = True
        elif name == "mask":
            mask = await part.read()  # type: ignore[union-attr]
            params[name] = True
        else:
            params[name] = await part.text()  # type: ignore[union-attr]
    request.app[STATE].seen[-1].update(parts=parts, raw=params)
    return params, images, mask


async def _edit_params(request: web.Request) -> tuple[dict[str, Any], list[tuple[int, int]]]:
    params, images, mask = await _read_multipart(request)
    p = validate(params, EDIT_PARAMS)
    if not images:
        raise FakeAPIError(
            400, "Missing required parameter: 'image'.", param="image", code="missing_required_parameter"
        )
    if len(images) > MAX_IMAGES:
        raise FakeAPIError(
            400,
            f"Invalid 'image': too many images. Expected at most {MAX_IMAGES}.",
            param="image",
            code="invalid_value",
        )
    sizes = [_check_image("image", raw) for raw in images]
    if mask is not None and _check_image("mask", mask) != sizes[0]:
        raise FakeAPIError(
            400,
            "Invalid mask image: the mask and the image must have the same dimensions.",
            param="mask",
            code="invalid_image_file",
        )
    return p, sizes


async def _json_params(request: web.Request) -> dict[str, Any]:
    try:
        params = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        raise FakeAPIError(400, "We could not parse the JSON body of your request.", code="invalid_json") from exc
    if not isinstance(params, dict):
        raise FakeAPIError(400, "Invalid body: expected a JSON object.", code="invalid_json")
    return params


# --------------------------------------------------------------------------- faults and handlers


def render_fault(fault: str, injector: FaultInjector) -> web.StreamResponse:
    retry_after = max(0.001, injector.profile.retry_after_s)
    if fault == "rate_limited":
        headers = {
            "retry-after": str(max(1, math.ceil(retry_after))),
            "retry-after-ms": str(round(retry_after * 1000)),
            "x-ratelimit-limit-requests": "5",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": f"{retry_after:g}s",
        }
        message = (
            "Rate limit reached for gpt-image-1 in organization org-fake on images per minute (IPM): Limit 5, "
            f"Used 5, Requested 1. Please try again in {retry_after:g}s."
        )
        return FakeAPIError(429, message, type_="requests", code="rate_limit_exceeded", headers=headers).response()
    if fault == "server_error":
        return FakeAPIError(
            500, "The server had an error while processing your request. Sorry about that!", type_="server_error"
        ).response()
    if fault == "unavailable":
        return FakeAPIError(
            503, "The engine is currently overloaded, please try again later.", type_="server_error"
        ).response()
    if fault == "content_policy":
        return FakeAPIError(
            400,
            "Your request was rejected as a result of our safety system. Your request may contain "
            "content that is not allowed by our safety system.",
            type_="image_generation_user_error",
            code="moderation_blocked",
        ).response()
    if fault == "malformed":
        return web.Response(body=b'{"created": 1, "data": [{"b64_json": "iVBO', content_type="application/json")
    raise ValueError(fault)


def _fixed_body(state: OpenAIFakeState, n: int) -> bytes:
    if n not in state._fixed:
        target = max(64, state.fixed_payload_bytes or 0)
        side = max(4, round(math.sqrt(target / 3)))  # noise does not compress: ~3 bytes a pixel
        noise = random.Random(n).randbytes(side * side * 3)
        buf = io.BytesIO()
        Image.frombytes("RGB", (side, side), noise).save(buf, format="PNG", compress_level=0)
        b64 = base64.b64encode(buf.getvalue()).decode()
        body = {
            "created": int(time.time()),
            "data": [{"b64_json": b64}] * n,
            "background": "opaque",
            "output_format": "png",
            "quality": "medium",
            "size": "1024x1024",
            "usage": {
                "input_tokens": 10,
                "input_tokens_details": {"image_tokens": 0, "text_tokens": 10},
                "output_tokens": 1056 * n,
                "total_tokens": 10 + 1056 * n,
            },
        }
        state._fixed[n] = orjson.dumps(body)
    return state._fixed[n]


async def _images(request: web.Request, edit: bool) -> web.StreamResponse:
    state: OpenAIFakeState = request.app[STATE]
    try:
        if state.fixed_payload_bytes:
            return await _images_fixed(request, state, edit)
        if edit:
            p, inputs = await _edit_params(request)
        else:
            raw = await _json_params(request)
            state.seen[-1]["raw"] = raw
            p, inputs = validate(raw, GENERATE_PARAMS), []
        state.seen[-1]["params"] = p
        if state.quota_exhausted:
            raise FakeAPIError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                type_="insufficient_quota",
                code="insufficient_quota",
            )
    except FakeAPIError as exc:
        return exc.response()
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await wait_for_timeout_fault(request)
    return await _answer_after(request, state, decision, p, inputs)


async def _answer_after(
    request: web.Request, state: OpenAIFakeState, decision: Decision, p: dict[str, Any], inputs: list[tuple[int, int]]
) -> web.StreamResponse:
    await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault is not None:
        return render_fault(decision.fault, state.injector)
    if p["stream"]:
        from imagegate.testing.fakes.openai_stream import stream_answer

        return await stream_answer(request, state, _answer(state, p, inputs), p, edit=bool(inputs))
    body = orjson.dumps(_answer(state, p, inputs))
    return await send_body(request, body, headers={"x-request-id": f"req_{uuid.uuid4().hex}"}, decision=decision)


async def _images_fixed(request: web.Request, state: OpenAIFakeState, edit: bool) -> web.StreamResponse:
    raw = await request.read()
    n = 1
    if not edit:
        try:
            n = int(orjson.loads(raw).get("n") or 1)
        except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
            n = 1
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await wait_for_timeout_fault(request)
    await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault is not None:
        return render_fault(decision.fault, state.injector)
    return await send_body(request, _fixed_body(state, max(1, min(n, 10))), decision=decision)


async def generations(request: web.Request) -> web.StreamResponse:
    return await _images(request, edit=False)


async def edits(request: web.Request) -> web.StreamResponse:
    return await _images(request, edit=True)


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def _model(mid: str) -> dict[str, Any]:
    return {"id": mid, "object": "model", "created": 1745366400, "owned_by": "system"}


async def list_models(request: web.Request) -> web.Response:
    return web.json_response({"object": "list", "data": [_model(m) for m in MODELS]}, dumps=_dumps)


async def get_model(request: web.Request) -> web.Response:
    mid = request.match_info["id"]
    if mid not in MODELS:
        return FakeAPIError(404, f"The model '{mid}' does not exist", param="model", code="model_not_found").response()
    return web.json_response(_model(mid), dumps=_dumps)


@web.middleware
async def _record_and_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    state: OpenAIFakeState = request.app[STATE]
    if not state.fixed_payload_bytes:
        state.seen.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "content_type": request.content_type,
            }
        )
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return FakeAPIError(
            401,
            "You didn't provide an API key. You need to provide your API key in an Authorization "
            "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
        ).response()
    key = auth[7:].strip()
    if key != state.api_key:
        shown = f"{key[:3]}{'*' * 10}{key[-4:]}" if len(key) > 8 else "*" * len(key)
        return FakeAPIError(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            code="invalid_api_key",
        ).response()
    return await handler(request)


STATE = web.AppKey("state", OpenAIFakeState)


def create_app(state: OpenAIFakeState | None = None, *, fixed_payload_bytes: int | None = None) -> web.Application:
    state = state or OpenAIFakeState()
    if fixed_payload_bytes is not None:
        state.fixed_payload_bytes = fixed_payload_bytes
    app = web.Application(middlewares=[_record_and_auth], client_max_size=200 * 1024 * 1024)
    app[STATE] = state
    app.router.add_post("/v1/images/generations", generations)
    app.router.add_post("/v1/images/edits", edits)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{id}", get_model)
    if state.fixed_payload_bytes:
        _fixed_body(state, 1)  # precompute before the first request
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI Images API (gpt-image-1)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9105)
    parser.add_argument("--faults", default="", help='e.g. "p50=20,p95=40,time_scale=0.05,rate_limited=0.05"')
    parser.add_argument("--api-key", default=OpenAIFakeState.api_key)
    parser.add_argument(
        "--fixed-image-bytes",
        type=int,
        default=None,
        help="answer every image request with one precomputed image of about this many bytes",
    )
    args = parser.parse_args(argv)
    state = OpenAIFakeState(injector=FaultInjector(profile_from_cli(args.faults)), api_key=args.api_key)
    url = f"http://{args.host}:{args.port}"
    web.run_app(
        create_app(state, fixed_payload_bytes=args.fixed_image_bytes),
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda _msg: print(f"fake OpenAI Images API ready on {url}/v1", flush=True),
    )


if __name__ == "__main__":
    main()
