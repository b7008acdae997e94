"""The catalog's other Replicate models (``imagegate/testing/schemas/replicate.json``): inputs validated against each
model's published schema, outputs shaped as its Output schema (one URL, or a list of URLs, one per image).

Shares the prediction lifecycle of ``predictions.py`` (Prefer: wait, Cancel-After, polling, cancel); faults apply
as they do for google/nano-banana-pro.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import orjson
from aiohttp import web

from imagegate.media.sizes import pixel_size
from imagegate.testing.fakes.common import abort_connection, make_image, send_body
from imagegate.testing.fakes.replicate.files import image_size, resolve_image
from imagegate.testing.fakes.replicate.state import STATE, ReplicateFakeState, Run, base_url, new_id, now_iso, problem
from imagegate.testing.schemas import schemas, validation_errors

IMAGE_FIELDS = ("image", "input_image", "image_input", "input_images", "image_prompt")


def known(model: str) -> bool:
    return model in schemas("replicate")


def version_id(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()


def _invalid(model: str, inp: Any) -> list[dict[str, str]]:
    return [
        {"type": kind, "field": ".".join(["input", *map(str, path)]), "description": msg}
        for path, msg, kind in validation_errors(schemas("replicate")[model]["input"], inp)
    ]


def _refs(inp: dict[str, Any]) -> list[str]:
    refs: list[str] = []
    for name in IMAGE_FIELDS:
        value = inp.get(name)
        refs.extend(value if isinstance(value, list) else [value] if isinstance(value, str) else [])
    return refs


def _size(inp: dict[str, Any], first: tuple[int, int] | None) -> tuple[int, int]:
    ratio = inp.get("aspect_ratio")
    if not isinstance(ratio, str) or ":" not in ratio:
        return first or (1024, 1024)
    tier = inp.get("size") if inp.get("size") in ("1K", "2K", "4K") else "1K"
    return pixel_size(ratio, tier)


async def _generate(
    state: ReplicateFakeState,
    run: Run,
    model: str,
    latency: float,
    error: str | None,
    base: str,
    first: tuple[int, int] | None,
) -> None:
    pred, inp = run.pred, run.pred["input"]
    try:
        await asyncio.sleep(latency * 0.1)
        pred.update(status="processing", started_at=now_iso())
        await asyncio.sleep(latency * 0.9)
        if state.hold is not None:
            await state.hold.wait()
        if error is not None:
            pred.update(status="failed", error=error, completed_at=now_iso())
            return
        width, height = _size(inp, first)
        fmt = inp.get(
            "output_format", "webp" if "output_format" in schemas("replicate")[model]["input"]["properties"] else "png"
        )
        count = int(inp.get("num_outputs", 1))
        urls = []
        for i in range(count):
            data = await asyncio.to_thread(
                make_image, width, height, "jpeg" if fmt == "jpg" else fmt, f"{inp['prompt']}#{i}"
            )
            name = f"{pred['id']}-{i}.{fmt}"
            state.outputs[name] = (data, f"image/{'jpeg' if fmt == 'jpg' else fmt}")
            urls.append(f"{base}/files/{name}")
        many = schemas("replicate")[model]["output"].get("type") == "array"
        pred.update(
            output=urls if many else urls[0],
            status="succeeded",
            completed_at=now_iso(),
            metrics={"predict_time": round(latency * 0.9, 3)},
        )
    finally:
        if run.timer is not None:
            run.timer.cancel()
        run.done.set()


async def create(request: web.Request, model: str) -> web.StreamResponse:
    """``POST /v1/models/{owner}/{name}/predictions`` for a catalog model."""
    from imagegate.testing.fakes.replicate.predictions import _deadline, _fault_response, parse_duration, prefer_wait

    state: ReplicateFakeState = request.app[STATE]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return problem(400, "Invalid JSON", "The request body is not valid JSON")
    inp = body.get("input", {}) if isinstance(body, dict) else None
    invalid = _invalid(model, inp)
    if invalid:
        detail = "".join(f"- {e['field']}: {e['description']}\n" for e in invalid)
        return problem(422, "Input validation failed", detail, invalid_fields=invalid)
    assert isinstance(inp, dict)
    state.bodies.append((model, inp))
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await state.injector.wait(decision)
    if decision.fault == "reset":
        return abort_connection(request)
    if decision.fault not in (None, "content_policy"):
        return _fault_response(decision.fault, state.injector)
    base, pid = base_url(request), new_id()
    urls = {"get": f"{base}/v1/predictions/{pid}", "cancel": f"{base}/v1/predictions/{pid}/cancel"}
    run = Run(
        pred={
            "id": pid,
            "model": model,
            "version": version_id(model),
            "input": inp,
            "logs": "",
            "output": None,
            "error": None,
            "status": "starting",
            "created_at": now_iso(),
            "started_at": None,
            "completed_at": None,
            "metrics": {},
            "urls": urls,
        }
    )
    first = None
    error = "The input or output was flagged as sensitive. (E005)" if decision.fault == "content_policy" else None
    for ref in _refs(inp):
        kind, data = resolve_image(ref, state, base)
        size = image_size(data) if data else None
        if data is None or size is None:
            error = error or f"Failed to load the {kind} input image"
        first = first or size
    state.runs[pid] = run
    loop = asyncio.get_running_loop()
    run.task = loop.create_task(_generate(state, run, model, decision.latency_s, error, base, first))
    cancel_after = (
        parse_duration(request.headers.get("Cancel-After", "")) if "Cancel-After" in request.headers else None
    )
    if cancel_after is not None:
        run.timer = loop.call_later(cancel_after, _deadline, run)
    wait = prefer_wait(request.headers.get("Prefer", ""))
    if wait is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(run.done.wait(), wait * state.injector.profile.time_scale)
    answer = dict(run.pred)
    if wait is not None and answer["status"] not in ("succeeded", "failed", "canceled", "aborted"):
        answer["status"] = "starting"
    return await send_body(request, orjson.dumps(answer), status=201, decision=decision)
