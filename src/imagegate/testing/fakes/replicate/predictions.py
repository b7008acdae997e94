"""Predictions: creation (with ``Prefer: wait`` and ``Cancel-After``), the simulated generation, get, cancel, stream.

Faults are drawn once per creation: HTTP-level ones answer the create request; ``content_policy`` lets the
prediction run its drawn latency and end ``failed`` with Replicate's E005 message.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

import orjson
from aiohttp import web

from imagegate.media.sizes import pixel_size  # the model's native pixels per ratio and tier
from imagegate.testing.fakes.common import abort_connection, make_image, send_body
from imagegate.testing.fakes.replicate.files import image_size, resolve_image
from imagegate.testing.fakes.replicate.schema import (
    DEFAULTS,
    E005,
    MODEL,
    VERSION_ID,
    nearest_ratio,
    validate_input,
)
from imagegate.testing.fakes.replicate.state import (
    STATE,
    ReplicateFakeState,
    Run,
    base_url,
    json_response,
    new_id,
    not_found,
    now_iso,
    problem,
)
from imagegate.testing.faults import FaultInjector

TERMINAL = ("succeeded", "failed", "canceled", "aborted")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")


def parse_duration(text: str) -> float | None:
    """Go-style durations as ``Cancel-After`` takes them: ``30s``, ``1m30s``, ``1h``."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(a + b for a, b in parts) != text:
        return None
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(a) * scale[b] for a, b in parts)


def prefer_wait(header: str) -> float | None:
    """Seconds asked by ``Prefer: wait`` / ``wait=N`` (1..60), or None."""
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "wait":
            try:
                return min(60.0, max(1.0, float(value))) if value else 60.0
            except ValueError:
                return 60.0
    return None


def _new_prediction(pid: str, base: str, inp: dict[str, Any]) -> dict[str, Any]:
    urls = {
        "get": f"{base}/v1/predictions/{pid}",
        "cancel": f"{base}/v1/predictions/{pid}/cancel",
        "stream": f"{base}/v1/predictions/{pid}/stream",
        "web": f"https://replicate.com/p/{pid}",
    }
    return {
        "id": pid,
        "model": MODEL,
        "version": VERSION_ID,
        "input": inp,
        "logs": "",
        "output": None,
        "data_removed": False,
        "error": None,
        "status": "starting",
        "created_at": now_iso(),
        "started_at": None,
        "completed_at": None,
        "metrics": {},
        "urls": urls,
    }


def _finish(run: Run, status: str, error: str | None = None) -> None:
    run.pred.update(status=status, completed_at=now_iso(), error=error)
    if run.timer is not None:
        run.timer.cancel()
    run.done.set()


async def _generate(state: ReplicateFakeState, run: Run, latency: float, error: str | None, base: str) -> None:
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


def _deadline(run: Run) -> None:
    if run.pred["status"] not in TERMINAL:
        if run.task is not None:
            run.task.cancel()
        _finish(run, "aborted" if run.pred["status"] == "starting" else "canceled")


def _fault_response(fault: str, injector: FaultInjector) -> web.Response:
    if fault == "rate_limited":
        secs = max(1, round(injector.profile.retry_after_s))
        return problem(
            429, "Too Many Requests", f"Request was throttled. Expected available in {secs} seconds.", retry_after=secs
        )
    if fault == "server_error":
        return problem(500, "Internal Server Error", "An unexpected error occurred")
    if fault == "unavailable":
        return problem(503, "Service Unavailable", "The service is temporarily unavailable. Please retry.")
    if fault == "malformed":
        return web.Response(body=b'{"id": "x", "status": "start', status=201, content_type="application/json")
    raise ValueError(fault)


async def _create(request: web.Request, state: ReplicateFakeState, inp: dict[str, Any]) -> web.StreamResponse:
    cancel_after = None
    if "Cancel-After" in request.headers:
        cancel_after = parse_duration(request.headers["Cancel-After"])
        if cancel_after is None:
            return problem(400, "Invalid Cancel-After header", "Cancel-After must be a duration such as 30s or 1m")
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault not in (None, "content_policy"):
        return _fault_response(decision.fault, state.injector)
    base, pid = base_url(request), new_id()
    run = Run(pred=_new_prediction(pid, base, inp))
    error = E005 if decision.fault == "content_policy" else None
    for i, url in enumerate(inp.get("image_input", [])):
        kind, data = resolve_image(url, state, base)
        run.input_kinds.append(kind)
        size = image_size(data) if data else None
        if data is None or (data and size is None):
            error = error or f"Failed to load image_input.{i}: the {kind} input is not a readable image"
        elif i == 0 and size is not None:
            run.match_ratio = nearest_ratio(*size)
    state.runs[pid] = run
    loop = asyncio.get_running_loop()
    run.task = loop.create_task(_generate(state, run, decision.latency_s, error, base))
    if cancel_after is not None:
        run.timer = loop.call_later(cancel_after, _deadline, run)
    wait = prefer_wait(request.headers.get("Prefer", ""))
    if wait is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), wait * state.injector.profile.time_scale)
    answer = dict(run.pred)
    if wait is not None and answer["status"] == "succeeded":
        if state.rng.random() < state.processing_with_output_rate:
            answer.update(status="processing", completed_at=None)  # answered before the state turned terminal
    elif wait is not None and answer["status"] not in TERMINAL:
        answer["status"] = "starting"  # the wait ran out
    return await send_body(request, orjson.dumps(answer), status=201, decision=decision)


async def _validated_create(request: web.Request, need_version: bool) -> web.StreamResponse:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return problem(400, "Invalid JSON", "The request body is not valid JSON")
    if not isinstance(body, dict):
        return problem(400, "Invalid JSON", "The request body must be a JSON object")
    if need_version and str(body.get("version", "")).split(":")[-1] != VERSION_ID:
        return problem(422, "Invalid version", "Invalid version or not permitted")
    inp = body.get("input", {})
    invalid = validate_input(inp)
    if invalid:
        detail = "".join(f"- {e['field']}: {e['description']}\n" for e in invalid)
        return problem(422, "Input validation failed", detail, invalid_fields=invalid)
    return await _create(request, request.app[STATE], inp)


async def create_model_prediction(request: web.Request) -> web.StreamResponse:
    model = f"{request.match_info['owner']}/{request.match_info['name']}"
    from imagegate.testing.fakes.replicate import catalog_models

    if model != MODEL and catalog_models.known(model):
        return await catalog_models.create(request, model)
    if model != MODEL:
        return problem(404, "Not found", f"The requested model {model} was not found")
    return await _validated_create(request, need_version=False)


async def create_version_prediction(request: web.Request) -> web.StreamResponse:
    return await _validated_create(request, need_version=True)


async def get_prediction(request: web.Request) -> web.Response:
    run = request.app[STATE].runs.get(request.match_info["id"])
    return not_found() if run is None else json_response(run.pred)


async def cancel_prediction(request: web.Request) -> web.Response:
    state = request.app[STATE]
    run = state.runs.get(request.match_info["id"])
    if run is None:
        return not_found()
    state.canceled.append(run.pred["id"])
    if run.pred["status"] not in TERMINAL:
        if run.task is not None:
            run.task.cancel()
        _finish(run, "canceled")
    return json_response(run.pred)


async def stream_prediction(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``output`` (the URL) or ``error``, then ``done``, once the prediction ends."""
    run = request.app[STATE].runs.get(request.match_info["id"])
    if run is None:
        return not_found()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    await resp.prepare(request)
    await run.done.wait()
    if run.pred["status"] == "succeeded":
        await resp.write(f"event: output\nid: 1\ndata: {run.pred['output']}\n\n".encode())
    elif run.pred["status"] == "failed":
        data = orjson.dumps({"detail": run.pred["error"]}).decode()
        await resp.write(f"event: error\nid: 1\ndata: {data}\n\n".encode())
    await resp.write(b"event: done\nid: 2\ndata: {}\n\n")
    await resp.write_eof()
    return resp
