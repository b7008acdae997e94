"""A protocol-faithful fake of Replicate's HTTP API, serving the official model ``google/nano-banana-pro``.

Speaks what replicate-python and our adapter rely on: ``POST /v1/models/{owner}/{name}/predictions`` with
``Prefer: wait[=N]`` (blocks for the generation; answers ``starting`` when the wait runs out, and sometimes
``processing`` with the output already set, as the real API does), ``Cancel-After`` deadlines, the version-based
``POST /v1/predictions``, ``GET``/``cancel`` of predictions, the files API, the model and version objects, and the
output image itself (served by the fake, no auth, like ``replicate.delivery``). Errors are problem+json.

Faults (``imagegate.testing.faults``) are drawn once per prediction creation: HTTP-level ones (``rate_limited``,
``server_error``, ``unavailable``, ``malformed``, ``reset``, ``timeout``) answer the create request; ``content_policy``
lets the prediction run its drawn latency and end ``failed`` with Replicate's E005 message.

Run: ``python -m imagegate.testing.fakes.replicate --port 9103 --faults "p50=30,p95=60,time_scale=0.05"``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import io
import math
import random
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from imagegate.testing.fakes.common import FakeState, abort_connection, make_image, profile_from_cli, send_body
from imagegate.testing.faults import FaultInjector

MODEL = "google/nano-banana-pro"
VERSION_ID = hashlib.sha256(MODEL.encode()).hexdigest()
RATIOS_1K = {
    "1:1": (1024, 1024), "2:3": (848, 1264), "3:2": (1264, 848), "3:4": (896, 1200), "4:3": (1200, 896),
    "4:5": (928, 1152), "5:4": (1152, 928), "9:16": (768, 1376), "16:9": (1376, 768), "21:9": (1584, 672),
}
ENUMS: dict[str, tuple[str, ...]] = {
    "aspect_ratio": ("match_input_image", *RATIOS_1K),
    "resolution": ("1K", "2K", "4K"),
    "output_format": ("jpg", "png"),
    "safety_filter_level": ("block_low_and_above", "block_medium_and_above", "block_only_high"),
}
DEFAULTS = {"aspect_ratio": "match_input_image", "resolution": "2K", "output_format": "jpg",
            "safety_filter_level": "block_only_high"}
MAX_IMAGE_INPUTS = 14
E005 = "The input or output was flagged as sensitive. Please try again with different inputs. (E005)"
TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_TIERS = {"1K": 1, "2K": 2, "4K": 4}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")


def new_id() -> str:
    return base64.b32encode(uuid.uuid4().bytes).decode().lower().rstrip("=")


def pixel_size(aspect_ratio: str, resolution: str) -> tuple[int, int]:
    w, h = RATIOS_1K[aspect_ratio]
    k = _TIERS[resolution]
    return w * k, h * k


def nearest_ratio(width: int, height: int) -> str:
    target = math.log(width / height)
    return min(RATIOS_1K, key=lambda r: abs(math.log(RATIOS_1K[r][0] / RATIOS_1K[r][1]) - target))


def parse_duration(text: str) -> float | None:
    """Go-style durations as ``Cancel-After`` takes them: ``30s``, ``1m30s``, ``1h``."""
    parts = _DURATION.findall(text.strip())
    if not parts or "".join(a + b for a, b in parts) != text.strip():
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(a) * scale[b] for a, b in parts)


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    body = {"title": title, "detail": detail, "status": status, **extra}
    headers = {"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/problem+json",
                        headers=headers)


@dataclass
class _Run:
    pred: dict[str, Any]
    done: asyncio.Event = field(default_factory=asyncio.Event)
    input_kinds: list[str] = field(default_factory=list)
    match_ratio: str = "1:1"  # nearest supported ratio of the first input image
    task: asyncio.Task | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass
class ReplicateFakeState(FakeState):
    """The fake's world. ``hold`` (when set to an unset Event) keeps every generation from finishing until set."""

    api_token: str = "r8_fake_token_for_tests"
    processing_with_output_rate: float = 0.0  # P(blocking answer says "processing" with the output already set)
    hold: asyncio.Event | None = None
    runs: dict[str, _Run] = field(default_factory=dict)
    files: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)  # id -> (bytes, File object)
    outputs: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # file name -> (bytes, mime)
    canceled: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=lambda: random.Random(7))

    def requests(self, method: str, prefix: str = "") -> list[dict]:
        return [s for s in self.seen if s["method"] == method and s["path"].startswith(prefix)]

    async def settle(self) -> None:
        """Wait until every running simulated generation has ended."""
        tasks = [r.task for r in self.runs.values() if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


STATE = web.AppKey("state", ReplicateFakeState)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _authorized(request: web.Request, state: ReplicateFakeState) -> bool:
    return request.headers.get("Authorization", "") == f"Bearer {state.api_token}"


def _unauthenticated() -> web.Response:
    return problem(401, "Unauthenticated", "You did not pass a valid authentication token")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


# --------------------------------------------------------------------------- input validation


def validate_input(inp: Any) -> list[dict[str, str]]:
    """Check ``input`` against the model's schema; return Replicate-style ``invalid_fields``."""
    if not isinstance(inp, dict):
        return [{"type": "invalid_type", "field": "input", "description": "Invalid type. Expected: object"}]
    errors = []
    for key in inp:
        if key not in ENUMS and key not in ("prompt", "image_input"):
            errors.append({"type": "additional_property_not_allowed", "field": "input",
                           "description": f"Additional property {key} is not allowed"})
    if "prompt" not in inp:
        errors.append({"type": "required", "field": "input", "description": "prompt is required"})
    elif not isinstance(inp["prompt"], str):
        errors.append({"type": "invalid_type", "field": "input.prompt",
                       "description": "Invalid type. Expected: string, given: " + type(inp["prompt"]).__name__})
    for key, allowed in ENUMS.items():
        if key in inp and inp[key] not in allowed:
            choices = ", ".join(f'"{a}"' for a in allowed)
            errors.append({"type": "enum", "field": f"input.{key}",
                           "description": f"{key} must be one of the following: {choices}"})
    images = inp.get("image_input", [])
    if not isinstance(images, list):
        errors.append({"type": "invalid_type", "field": "input.image_input",
                       "description": "Invalid type. Expected: array"})
    else:
        if len(images) > MAX_IMAGE_INPUTS:
            errors.append({"type": "array_max_items", "field": "input.image_input",
                           "description": f"Array must have at most {MAX_IMAGE_INPUTS} items"})
        for i, item in enumerate(images):
            if not isinstance(item, str) or not item.startswith(("data:", "http://", "https://")):
                errors.append({"type": "format", "field": f"input.image_input.{i}",
                               "description": "Does not match format 'uri'"})
    return errors


def _resolve_image(url: str, state: ReplicateFakeState, base: str) -> tuple[str, bytes | None]:
    """Return (kind, bytes) of one image input; bytes None when it cannot be read here."""
    if url.startswith("data:"):
        _, _, payload = url.partition(",")
        try:
            return "data", base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "data", None
    prefix = f"{base}/v1/files/"
    if url.startswith(prefix):
        entry = state.files.get(url[len(prefix):].split("/")[0])
        return "file", entry[0] if entry else None
    return "url", b""  # a foreign URL: accepted, not fetched (no network here)


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - any undecodable input is simply "not an image"
        return None


# --------------------------------------------------------------------------- predictions


def _new_prediction(pid: str, base: str, inp: dict[str, Any]) -> dict[str, Any]:
    urls = {"get": f"{base}/v1/predictions/{pid}", "cancel": f"{base}/v1/predictions/{pid}/cancel",
            "stream": f"{base}/v1/predictions/{pid}/stream", "web": f"https://replicate.com/p/{pid}"}
    return {"id": pid, "model": MODEL, "version": VERSION_ID, "input": inp, "logs": "", "output": None,
            "data_removed": False, "error": None, "status": "starting", "created_at": now_iso(),
            "started_at": None, "completed_at": None, "metrics": {}, "urls": urls}


def _finish(run: _Run, status: str, error: str | None = None) -> None:
    pred = run.pred
    pred.update(status=status, completed_at=now_iso(), error=error)
    if run.timer is not None:
        run.timer.cancel()
    run.done.set()


async def _generate(state: ReplicateFakeState, run: _Run, latency: float, error: str | None, base: str) -> None:
    pred, inp = run.pred, run.pred["input"]
    try:
        await asyncio.sleep(latency * 0.1)  # queued
        pred.update(status="processing", started_at=now_iso(), logs="Generating image...\n")
        await asyncio.sleep(latency * 0.9)
        if state.hold is not None:
            await state.hold.wait()
        pred["metrics"] = {"predict_time": round(latency * 0.9, 3), "total_time": round(latency, 3)}
        if error is not None:
            _finish(run, "failed", error)
            return
        ratio = inp.get("aspect_ratio", DEFAULTS["aspect_ratio"])
        if ratio == "match_input_image":
            ratio = run.match_ratio
        width, height = pixel_size(ratio, inp.get("resolution", DEFAULTS["resolution"]))
        fmt = inp.get("output_format", DEFAULTS["output_format"])
        data = await asyncio.to_thread(make_image, width, height, "jpeg" if fmt == "jpg" else "png", inp["prompt"])
        name = f"{pred['id']}.{fmt}"
        state.outputs[name] = (data, "image/jpeg" if fmt == "jpg" else "image/png")
        pred.update(output=f"{base}/files/{name}", logs=pred["logs"] + "Done.\n")
        _finish(run, "succeeded")
    finally:
        run.done.set()


def _deadline(run: _Run) -> None:
    if run.pred["status"] not in TERMINAL:
        if run.task is not None:
            run.task.cancel()
        _finish(run, "aborted" if run.pred["status"] == "starting" else "canceled")


def _prefer_wait(header: str) -> float | None:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "wait":
            try:
                return min(60.0, max(1.0, float(value))) if value else 60.0
            except ValueError:
                return 60.0
    return None


def _create_fault(fault: str, injector: FaultInjector) -> web.Response:
    if fault == "rate_limited":
        secs = max(1, round(injector.profile.retry_after_s))
        return problem(429, "Too Many Requests", f"Request was throttled. Expected available in {secs} seconds.",
                       retry_after=secs)
    if fault == "server_error":
        return problem(500, "Internal Server Error", "An unexpected error occurred")
    if fault == "unavailable":
        return problem(503, "Service Unavailable", "The service is temporarily unavailable. Please retry.")
    if fault == "malformed":
        return web.Response(body=b'{"id": "x", "status": "start', status=201, content_type="application/json")
    raise ValueError(fault)


async def _create(request: web.Request, state: ReplicateFakeState, body: dict[str, Any]) -> web.StreamResponse:
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault not in (None, "content_policy"):
        return _create_fault(decision.fault, state.injector)
    cancel_after = None
    if "Cancel-After" in request.headers:
        cancel_after = parse_duration(request.headers["Cancel-After"])
        if cancel_after is None:
            return problem(400, "Invalid Cancel-After header", "Cancel-After must be a duration such as 30s or 1m")
    inp, base = body.get("input", {}), _base(request)
    pid = new_id()
    run = _Run(pred=_new_prediction(pid, base, inp))
    error = E005 if decision.fault == "content_policy" else None
    for i, url in enumerate(inp.get("image_input", [])):
        kind, data = _resolve_image(url, state, base)
        run.input_kinds.append(kind)
        size = _image_size(data) if data else None
        if data is None or (data and size is None):
            error = error or f"Failed to load image_input.{i}: the {kind} input is not a readable image"
        elif i == 0 and size is not None:
            run.match_ratio = nearest_ratio(*size)
    state.runs[pid] = run
    loop = asyncio.get_running_loop()
    run.task = loop.create_task(_generate(state, run, decision.latency_s, error, base))
    if cancel_after is not None:
        run.timer = loop.call_later(cancel_after, _deadline, run)
    wait = _prefer_wait(request.headers.get("Prefer", ""))
    answer = _public(run.pred)
    if wait is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), wait * state.injector.profile.time_scale)
        answer = _public(run.pred)
        if answer["status"] == "succeeded" and state.rng.random() < state.processing_with_output_rate:
            answer.update(status="processing", completed_at=None)  # answered before the state turned terminal
        elif answer["status"] not in TERMINAL:
            answer["status"] = "starting"  # the wait ran out
    return await send_body(request, orjson.dumps(answer), status=201, decision=decision)


def _public(pred: dict[str, Any]) -> dict[str, Any]:
    return dict(pred)


# --------------------------------------------------------------------------- handlers


async def create_model_prediction(request: web.Request) -> web.StreamResponse:
    state: ReplicateFakeState = request.app[STATE]
    model = f"{request.match_info['owner']}/{request.match_info['name']}"
    if model != MODEL:
        return problem(404, "Not found", f"The requested model {model} was not found")
    return await _validated_create(request, state)


async def create_version_prediction(request: web.Request) -> web.StreamResponse:
    state: ReplicateFakeState = request.app[STATE]
    return await _validated_create(request, state, need_version=True)


async def _validated_create(request: web.Request, state: ReplicateFakeState, need_version: bool = False
                            ) -> web.StreamResponse:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return problem(400, "Invalid JSON", "The request body is not valid JSON")
    if not isinstance(body, dict):
        return problem(400, "Invalid JSON", "The request body must be a JSON object")
    if need_version and str(body.get("version", "")).split(":")[-1] != VERSION_ID:
        return problem(422, "Invalid version", "Invalid version or not permitted")
    invalid = validate_input(body.get("input", {}))
    if invalid:
        detail = "".join(f"- {e['field']}: {e['description']}\n" for e in invalid)
        return problem(422, "Input validation failed", detail, invalid_fields=invalid)
    return await _create(request, state, body)


async def get_prediction(request: web.Request) -> web.Response:
    run = request.app[STATE].runs.get(request.match_info["id"])
    if run is None:
        return problem(404, "Not found", "The requested resource could not be found")
    return _json(_public(run.pred))


async def cancel_prediction(request: web.Request) -> web.Response:
    state: ReplicateFakeState = request.app[STATE]
    run = state.runs.get(request.match_info["id"])
    if run is None:
        return problem(404, "Not found", "The requested resource could not be found")
    state.canceled.append(run.pred["id"])
    if run.pred["status"] not in TERMINAL:
        if run.task is not None:
            run.task.cancel()
        _finish(run, "canceled")
    return _json(_public(run.pred))


async def stream_prediction(request: web.Request) -> web.StreamResponse:
    run = request.app[STATE].runs.get(request.match_info["id"])
    if run is None:
        return problem(404, "Not found", "The requested resource could not be found")
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await resp.prepare(request)
    await run.done.wait()
    if run.pred["status"] == "succeeded":
        await resp.write(f"event: output\nid: 1\ndata: {run.pred['output']}\n\n".encode())
    elif run.pred["status"] == "failed":
        await resp.write(f"event: error\nid: 1\ndata: {orjson.dumps({'detail': run.pred['error']}).decode()}\n\n"
                         .encode())
    await resp.write(b"event: done\nid: 2\ndata: {}\n\n")
    await resp.write_eof()
    return resp


def _version(base: str) -> dict[str, Any]:
    props: dict[str, Any] = {
        "prompt": {"type": "string", "title": "Prompt", "x-order": 0},
        "image_input": {"type": "array", "items": {"type": "string", "format": "uri"}, "default": [],
                        "maxItems": MAX_IMAGE_INPUTS, "title": "Image Input", "x-order": 1},
    }
    for order, (key, allowed) in enumerate(ENUMS.items(), start=2):
        props[key] = {"enum": list(allowed), "type": "string", "default": DEFAULTS[key], "x-order": order}
    schema = {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"}, "paths": {},
              "components": {"schemas": {
                  "Input": {"type": "object", "title": "Input", "required": ["prompt"], "properties": props},
                  "Output": {"type": "string", "title": "Output", "format": "uri"}}}}
    return {"id": VERSION_ID, "created_at": "2025-11-20T00:00:00.000000Z", "cog_version": "0.16.8",
            "openapi_schema": schema}


async def get_model(request: web.Request) -> web.Response:
    owner, name = request.match_info["owner"], request.match_info["name"]
    if f"{owner}/{name}" != MODEL:
        return problem(404, "Not found", "The requested resource could not be found")
    base = _base(request)
    return _json({"url": f"https://replicate.com/{MODEL}", "owner": owner, "name": name,
                  "description": "Google's state of the art image generation and editing model",
                  "visibility": "public", "github_url": None, "paper_url": None, "license_url": None,
                  "run_count": 1000, "cover_image_url": None, "default_example": None,
                  "latest_version": _version(base)})


async def get_version(request: web.Request) -> web.Response:
    ok = f"{request.match_info['owner']}/{request.match_info['name']}" == MODEL
    if not ok or request.match_info["version"] != VERSION_ID:
        return problem(404, "Not found", "The requested resource could not be found")
    return _json(_version(_base(request)))


async def upload_file(request: web.Request) -> web.Response:
    state: ReplicateFakeState = request.app[STATE]
    if not request.content_type.startswith("multipart/"):
        return problem(400, "Bad request", "Expected a multipart/form-data body with a 'content' part")
    data, name, ctype, metadata = None, "file", "application/octet-stream", {}
    async for part in await request.multipart():
        if part.name == "content":
            data = await part.read()
            name = part.filename or name
            ctype = part.headers.get("Content-Type", ctype)
        elif part.name == "metadata":
            metadata = orjson.loads(await part.read())
    if data is None:
        return problem(422, "Missing content", "The 'content' part is required")
    fid = new_id()
    created = dt.datetime.now(dt.UTC)
    obj = {"id": fid, "name": name, "content_type": ctype, "size": len(data),
           "etag": hashlib.md5(data).hexdigest(),  # noqa: S324 - an etag, not security
           "checksums": {"sha256": hashlib.sha256(data).hexdigest(), "md5": hashlib.md5(data).hexdigest()},  # noqa: S324
           "metadata": metadata, "created_at": created.isoformat().replace("+00:00", "Z"),
           "expires_at": (created + dt.timedelta(days=1)).isoformat().replace("+00:00", "Z"),
           "urls": {"get": f"{_base(request)}/v1/files/{fid}"}}
    state.files[fid] = (data, obj)
    return _json(obj, status=201)


async def file_object(request: web.Request) -> web.Response:
    state: ReplicateFakeState = request.app[STATE]
    entry = state.files.get(request.match_info["id"])
    if entry is None:
        return problem(404, "Not found", "The requested resource could not be found")
    if request.method == "DELETE":
        del state.files[request.match_info["id"]]
        return web.Response(status=204)
    if request.path.endswith("/download"):
        return web.Response(body=entry[0], content_type=entry[1]["content_type"])
    return _json(entry[1])


async def output_file(request: web.Request) -> web.Response:
    entry = request.app[STATE].outputs.get(request.match_info["name"])
    if entry is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(body=entry[0], content_type=entry[1])


@web.middleware
async def _record_and_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    state: ReplicateFakeState = request.app[STATE]
    body = await request.read() if request.content_type == "application/json" else None
    parsed = None
    with contextlib.suppress(orjson.JSONDecodeError):
        parsed = orjson.loads(body) if body else None
    state.seen.append({"method": request.method, "path": request.path, "prefer": request.headers.get("Prefer"),
                       "cancel_after": request.headers.get("Cancel-After"), "json": parsed})
    if request.path.startswith("/v1/") and not _authorized(request, state):
        return _unauthenticated()
    return await handler(request)


async def _cleanup(app: web.Application) -> None:
    for run in app[STATE].runs.values():
        if run.timer is not None:
            run.timer.cancel()
        if run.task is not None and not run.task.done():
            run.task.cancel()
    await app[STATE].settle()


def create_app(state: ReplicateFakeState | None = None) -> web.Application:
    app = web.Application(middlewares=[_record_and_auth], client_max_size=200 * 1024 * 1024)
    app[STATE] = state or ReplicateFakeState()
    app.router.add_post("/v1/models/{owner}/{name}/predictions", create_model_prediction)
    app.router.add_get("/v1/models/{owner}/{name}", get_model)
    app.router.add_get("/v1/models/{owner}/{name}/versions/{version}", get_version)
    app.router.add_post("/v1/predictions", create_version_prediction)
    app.router.add_get("/v1/predictions/{id}", get_prediction)
    app.router.add_post("/v1/predictions/{id}/cancel", cancel_prediction)
    app.router.add_get("/v1/predictions/{id}/stream", stream_prediction)
    app.router.add_post("/v1/files", upload_file)
    app.router.add_get("/v1/files/{id}", file_object)
    app.router.add_delete("/v1/files/{id}", file_object)
    app.router.add_get("/v1/files/{id}/download", file_object)
    app.router.add_get("/files/{name}", output_file)
    app.on_cleanup.append(_cleanup)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Replicate API (google/nano-banana-pro)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9103)
    parser.add_argument("--faults", default="", help='e.g. "p50=30,p95=60,time_scale=0.05,rate_limited=0.05"')
    parser.add_argument("--api-token", default="r8_fake_token_for_tests")
    parser.add_argument("--processing-with-output", type=float, default=0.2,
                        help="probability that a finished blocking answer still says 'processing'")
    args = parser.parse_args(argv)
    state = ReplicateFakeState(injector=FaultInjector(profile_from_cli(args.faults)), api_token=args.api_token,
                               processing_with_output_rate=args.processing_with_output)
    web.run_app(create_app(state), host=args.host, port=args.port, access_log=None)


if __name__ == "__main__":
    main()
