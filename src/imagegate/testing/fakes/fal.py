"""A protocol-faithful fake of fal.ai's queue API, serving ``fal-ai/gemini-3-pro-image-preview`` (and ``/edit``)
and every catalog endpoint in ``imagegate/testing/schemas/fal.json`` (inputs validated against its published schema;
``image_size`` enum or ``{width, height}``, else ``aspect_ratio``, gives the output size).

Speaks what fal-client and our adapter rely on:

- ``POST /{owner}/{app}[/{path}]`` submits (``Authorization: Key ...``) and answers
  ``{"status":"IN_QUEUE","request_id","response_url","status_url","cancel_url","queue_position"}``; the URLs have no
  ``/edit`` (fal drops the sub-path), and the ``x-fal-request-id`` header is set.
- ``GET /{owner}/{app}/requests/{id}/status[?logs=1]``: ``IN_QUEUE`` (``queue_position``) -> ``IN_PROGRESS`` (both
  ``202 Accepted``, as fal answers them) ->
  ``COMPLETED`` (with ``error`` / ``error_type`` when the request failed). ``logs`` is always present (null unless
  asked), as fal-client reads it unconditionally.
- ``GET /{owner}/{app}/requests/{id}``: the result, or the failure with its HTTP status, ``detail``, ``error_type``,
  ``X-Fal-Error-Type`` and ``X-Fal-Retryable`` headers; 400 while the request is still running.
- ``PUT /{owner}/{app}/requests/{id}/cancel``: 202 ``CANCELLATION_REQUESTED`` or 400 ``ALREADY_COMPLETED``.
- ``POST /run/{owner}/{app}[/{path}]``: the synchronous ``fal.run`` host (point fal-client's run URL at ``/run/``).
- ``GET /files/{name}``: the output images themselves (no auth, like ``v3.fal.media``).

Faults (``imagegate.testing.faults``) are drawn once per submission: ``rate_limited`` (429 + Retry-After),
``server_error`` (500), ``unavailable`` (503, ``X-Fal-Retryable: true``), ``malformed``, ``reset`` and ``timeout``
answer the submit request; ``content_policy`` lets the request run its latency and end with fal's 422
``content_policy_violation``. Request-level failures (``runner_disconnected``, ``request_timeout``, ``app_error``) are
queued with ``FalFakeState.fail_next``. The queue phases last a quarter and three quarters of the drawn latency;
``queue_polls`` / ``progress_polls`` add phases counted in status polls (deterministic tests without timing).

Run: ``python -m imagegate.testing.fakes.fal --port 9104 --faults "p50=20,p95=40,time_scale=0.05" --key KEY``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import io
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from PIL import Image

from imagegate.media.sizes import pixel_size
from imagegate.testing.fakes.common import FakeState, abort_connection, make_image, mime_for, profile_from_cli
from imagegate.testing.faults import Decision, FaultInjector
from imagegate.testing.schemas import schemas, validation_errors

MODEL = "fal-ai/gemini-3-pro-image-preview"
RATIOS = ("21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3", "9:16")
ENUMS: dict[str, tuple[str, ...]] = {
    "aspect_ratio": ("auto", *RATIOS),
    "resolution": ("1K", "2K", "4K"),
    "output_format": ("jpeg", "png", "webp"),
    "safety_tolerance": ("1", "2", "3", "4", "5", "6"),
}
BOOLS = ("sync_mode", "enable_web_search", "limit_generations")
KNOWN = {"prompt", "num_images", "seed", *ENUMS, *BOOLS}
MAX_IMAGE_URLS = 2
# error_type -> (HTTP status of the result, detail, X-Fal-Retryable)
JOB_ERRORS: dict[str, tuple[int, str, str]] = {
    "runner_disconnected": (503, "Runner disconnected unexpectedly", "true"),
    "request_timeout": (504, "Request timed out", "true"),
    "app_error": (500, "Internal server error", "false"),
}
CONTENT_POLICY_MSG = "The content could not be processed because it contained material flagged by a content checker."


@dataclass
class _Job:
    id: str
    app: str  # "owner/app" (no sub-path)
    edit: bool
    body: dict[str, Any]
    base: str
    endpoint: str | None = None  # a catalog endpoint validated against its published schema; None = MODEL
    polls: int = 0
    answers: list[str] = field(default_factory=list)  # the status answered at each poll
    phase: str = "IN_QUEUE"
    result: dict[str, Any] | None = None
    error: tuple[int, dict[str, Any], dict[str, str]] | None = None  # (status, body, headers)
    error_type: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None


@dataclass
class FalFakeState(FakeState):
    """The fake's world. ``hold`` (an unset Event) keeps every request running until it is set."""

    key: str = "fal-fake-key-id:fal-fake-key-secret"
    # a misbehaving upstream: submissions fail with a 500 whose detail echoes the caller's credentials
    echo_key: bool = False
    hold: asyncio.Event | None = None
    queue_polls: int = 0  # status polls answered IN_QUEUE before anything else
    progress_polls: int = 0  # then this many IN_PROGRESS
    jobs: dict[str, _Job] = field(default_factory=dict)
    canceled: list[str] = field(default_factory=list)
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)  # job errors to apply to the next submissions, in order
    polled: asyncio.Event = field(default_factory=asyncio.Event)  # set at every status poll
    bodies: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (endpoint, input) of valid submissions
    _images: dict[tuple[int, int, str, str], bytes] = field(default_factory=dict)

    def fail_next(self, *error_types: str) -> None:
        """Make the next submitted requests end with these request errors (``JOB_ERRORS`` or ``content_policy``)."""
        for e in error_types:
            if e not in JOB_ERRORS and e != "content_policy":
                raise ValueError(f"unknown fal request error {e!r}")
        self.failures.extend(error_types)

    def requests(self, method: str, contains: str = "") -> list[dict]:
        return [s for s in self.seen if s["method"] == method and contains in s["path"]]

    def image(self, width: int, height: int, fmt: str, text: str) -> bytes:
        key = (width, height, fmt, text)
        if key not in self._images:
            self._images[key] = make_image(width, height, fmt, text)
        return self._images[key]

    async def settle(self) -> None:
        tasks = [j.task for j in self.jobs.values() if j.task is not None and not j.task.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _detail(loc: list[Any], msg: str, typ: str, **extra: Any) -> dict[str, Any]:
    return {"loc": loc, "msg": msg, "type": typ, **extra}


def _unprocessable(errors: list[dict[str, Any]]) -> web.Response:
    return _json({"detail": errors}, 422, {"X-Fal-Retryable": "false"})


# --------------------------------------------------------------------------- validation


def _decode_data_uri(uri: str) -> bytes | None:
    head, _, data = uri.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        return None
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None


def _check_image_url(i: int, url: Any) -> tuple[dict[str, Any] | None, tuple[int, int] | None]:
    loc = ["body", "image_urls", i]
    if not isinstance(url, str) or not url:
        return _detail(loc, "Input should be a valid string", "string_type"), None
    if url.startswith("data:"):
        raw = _decode_data_uri(url)
        if raw is None:
            return _detail(loc, "Invalid data URI", "image_load_error"), None
        try:
            with Image.open(io.BytesIO(raw)) as img:
                return None, img.size
        except Exception:  # noqa: BLE001 - any decoding failure is the client's bad image
            return _detail(loc, "Failed to load the image. Please ensure the image is valid.", "image_load_error"), None
    if url.startswith(("http://", "https://")):
        return None, None  # the real service downloads it; the fake trusts it
    return _detail(loc, "URL must start with http://, https:// or data:", "value_error"), None


def validate(body: Any, edit: bool) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """Return pydantic-style error details (empty when valid) and the first input image's size."""
    if not isinstance(body, dict):
        return [_detail(["body"], "Input should be a valid dictionary", "dict_type")], None
    errors: list[dict[str, Any]] = []
    known = KNOWN | ({"image_urls"} if edit else set())
    for key in body:
        if key not in known:
            errors.append(_detail(["body", key], "Extra inputs are not permitted", "extra_forbidden"))
    prompt = body.get("prompt")
    if prompt is None:
        errors.append(_detail(["body", "prompt"], "Field required", "missing"))
    elif not isinstance(prompt, str) or not prompt.strip():
        errors.append(_detail(["body", "prompt"], "String should have at least 1 character", "string_too_short"))
    n = body.get("num_images", 1)
    if not isinstance(n, int) or isinstance(n, bool):
        errors.append(_detail(["body", "num_images"], "Input should be a valid integer", "int_type"))
    elif n < 1:
        errors.append(
            _detail(["body", "num_images"], "Input should be greater than or equal to 1", "greater_than_equal")
        )
    elif n > 4:
        errors.append(_detail(["body", "num_images"], "Input should be less than or equal to 4", "less_than_equal"))
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        errors.append(_detail(["body", "seed"], "Input should be a valid integer", "int_type"))
    for name, allowed in ENUMS.items():
        if name in body and body[name] not in allowed:
            msg = "Input should be " + ", ".join(f"'{a}'" for a in allowed[:-1]) + f" or '{allowed[-1]}'"
            errors.append(_detail(["body", name], msg, "literal_error", input=body[name]))
    for name in BOOLS:
        if name in body and not isinstance(body[name], bool):
            errors.append(_detail(["body", name], "Input should be a valid boolean", "bool_type"))
    first_size = None
    if edit:
        urls = body.get("image_urls")
        if urls is None:
            errors.append(_detail(["body", "image_urls"], "Field required", "missing"))
        elif not isinstance(urls, list) or not urls:
            errors.append(_detail(["body", "image_urls"], "List should have at least 1 item", "too_short"))
        elif len(urls) > MAX_IMAGE_URLS:
            errors.append(
                _detail(
                    ["body", "image_urls"],
                    f"List should have at most {MAX_IMAGE_URLS} items after validation, not {len(urls)}",
                    "too_long",
                )
            )
        else:
            for i, url in enumerate(urls):
                err, size = _check_image_url(i, url)
                if err is not None:
                    errors.append(err)
                first_size = first_size or size
    return errors, first_size


# --------------------------------------------------------------------------- generation


def _output_size(body: dict[str, Any], first_size: tuple[int, int] | None) -> tuple[int, int]:
    ratio = body.get("aspect_ratio", "auto" if first_size else "1:1")
    if ratio == "auto":
        if first_size:
            w, h = first_size
            ratio = min(RATIOS, key=lambda r: abs(int(r.split(":")[0]) / int(r.split(":")[1]) - w / h))
        else:
            ratio = "1:1"
    return pixel_size(ratio, body.get("resolution", "1K"))


ENUM_SIZES = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}


def _catalog_size(body: dict[str, Any], first_size: tuple[int, int] | None) -> tuple[int, int]:
    """Output pixels of a catalog endpoint: ``image_size`` (enum or object), else ``aspect_ratio`` at 1K."""
    size = body.get("image_size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    if isinstance(size, str) and size in ENUM_SIZES:
        return ENUM_SIZES[size]
    ratio = body.get("aspect_ratio")
    if isinstance(ratio, str) and ":" in ratio:
        return pixel_size(ratio, "1K")
    return first_size or (1024, 1024)


def _render_result(state: FalFakeState, job: _Job, first_size: tuple[int, int] | None) -> dict[str, Any]:
    body = job.body
    fmt = body.get("output_format", "png")
    width, height = _catalog_size(body, first_size) if job.endpoint else _output_size(body, first_size)
    images = []
    for i in range(body.get("num_images", 1)):
        data = state.image(width, height, fmt, f"{body['prompt']}#{i}")
        name = f"{uuid.uuid4().hex[:20]}.{'jpg' if fmt == 'jpeg' else fmt}"
        if body.get("sync_mode"):
            url = f"data:{mime_for(fmt)};base64,{base64.b64encode(data).decode()}"
        else:
            state.files[name] = (data, mime_for(fmt))
            url = f"{job.base}/files/{name}"
        images.append(
            {
                "url": url,
                "content_type": mime_for(fmt),
                "file_name": name,
                "file_size": len(data),
                "width": width,
                "height": height,
            }
        )
    return {"images": images, "description": "Here is the image you asked for."}


def _fail(job: _Job, error_type: str) -> None:
    if error_type == "content_policy":
        detail = [
            _detail(
                ["body", "prompt"],
                CONTENT_POLICY_MSG,
                "content_policy_violation",
                url="https://docs.fal.ai/errors#content_policy_violation",
                input=job.body.get("prompt"),
            )
        ]
        job.error = (422, {"detail": detail}, {"X-Fal-Retryable": "false"})
        return
    status, message, retryable = JOB_ERRORS[error_type]
    job.error_type = error_type
    job.error = (
        status,
        {"detail": message, "error_type": error_type},
        {"X-Fal-Error-Type": error_type, "X-Fal-Retryable": retryable},
    )


async def _run(
    state: FalFakeState, job: _Job, latency: float, failure: str | None, first_size: tuple[int, int] | None
) -> None:
    try:
        await asyncio.sleep(latency / 4)
        job.phase = "IN_PROGRESS"
        await asyncio.sleep(latency * 3 / 4)
        if state.hold is not None:
            await state.hold.wait()
        if failure is not None:
            _fail(job, failure)
        else:
            job.result = await asyncio.to_thread(_render_result, state, job, first_size)
    finally:
        job.phase = "COMPLETED"
        job.done.set()


# --------------------------------------------------------------------------- handlers


def _submit_fault(fault: str, state: FalFakeState) -> web.Response:
    rid = str(uuid.uuid4())
    if fault == "rate_limited":
        after = str(max(1, round(state.injector.profile.retry_after_s)))
        return _json(
            {"detail": "Too many concurrent requests. Please try again later."},
            429,
            {"Retry-After": after, "X-Fal-Retryable": "true", "x-fal-request-id": rid},
        )
    if fault == "server_error":
        return _json({"detail": "Internal Server Error"}, 500, {"x-fal-request-id": rid})
    if fault == "unavailable":
        return _json(
            {"detail": "No runner could be allocated", "error_type": "runner_scheduling_failure"},
            503,
            {"X-Fal-Retryable": "true", "X-Fal-Error-Type": "runner_scheduling_failure"},
        )
    if fault == "malformed":
        return web.Response(body=b'{"request_id": "x", "status_url": "ht', content_type="application/json")
    raise ValueError(fault)


async def wait_for_timeout_fault(request: web.Request) -> None:
    """A 'timeout' fault: never answer, but stop as soon as the client hangs up (so shutdown is quick)."""
    for _ in range(36000):
        transport = request.transport
        if transport is None or transport.is_closing():
            break
        await asyncio.sleep(0.1)
    raise ConnectionResetError("client gave up")


async def _draw(request: web.Request, state: FalFakeState) -> tuple[Decision, web.StreamResponse | None]:
    decision = state.injector.decide()
    if decision.fault == "timeout":
        await wait_for_timeout_fault(request)
    if decision.fault == "reset":
        return decision, abort_connection(request)
    if decision.fault not in (None, "content_policy"):
        await state.injector.wait(decision)
        return decision, _submit_fault(decision.fault, state)
    return decision, None


def validate_catalog(endpoint: str, body: Any) -> tuple[list[dict[str, Any]], tuple[int, int] | None]:
    """Errors of ``body`` against ``endpoint``'s published schema (pydantic-style), and the first input's size."""
    found = validation_errors(schemas("fal")[endpoint], body)
    errors = [_detail(["body", *path], msg, kind) for path, msg, kind in found]
    first = None
    if not errors and isinstance(body, dict):
        refs = body.get("image_urls") or ([body["image_url"]] if "image_url" in body else [])
        for i, url in enumerate(refs):
            err, size = _check_image_url(i, url)
            if err is not None:
                errors.append(err)
            first = first or size
    return errors, first


async def _parse(
    request: web.Request, edit: bool, endpoint: str | None = None
) -> tuple[dict[str, Any] | None, web.Response | None, tuple[int, int] | None]:
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return None, _unprocessable([_detail(["body"], "JSON decode error", "json_invalid")]), None
    errors, first = validate_catalog(endpoint, body) if endpoint else validate(body, edit)
    if errors:
        return None, _unprocessable(errors), None
    return body, None, first


def _route(request: web.Request) -> tuple[str, bool, str | None] | web.Response:
    app = f"{request.match_info['owner']}/{request.match_info['app']}"
    path = request.match_info.get("path", "")
    endpoint = f"{app}/{path}" if path else app
    if endpoint in schemas("fal"):
        required = schemas("fal")[endpoint].get("required", [])
        return app, "image_url" in required or "image_urls" in required, endpoint
    if app != MODEL or path not in ("", "edit"):
        return _json({"detail": f"Application '{endpoint}' not found"}, 404)
    return app, path == "edit", None


async def _accept(
    request: web.Request, state: FalFakeState
) -> tuple[str, bool, dict[str, Any], tuple[int, int] | None, Decision, str | None] | web.StreamResponse:
    """What queue submit and the sync run share: the app's route, input validation, the fault draw."""
    routed = _route(request)
    if isinstance(routed, web.Response):
        return routed
    app, edit, endpoint = routed
    body, invalid, first = await _parse(request, edit, endpoint)
    if invalid is not None:
        return invalid
    assert body is not None
    state.bodies.append((endpoint or f"{app}{'/edit' if edit else ''}", body))
    decision, answered = await _draw(request, state)
    if answered is not None:
        return answered
    return app, edit, body, first, decision, endpoint


async def submit(request: web.Request) -> web.StreamResponse:
    state: FalFakeState = request.app[STATE]
    accepted = await _accept(request, state)
    if isinstance(accepted, web.StreamResponse):
        return accepted
    app, edit, body, first, decision, endpoint = accepted
    failure = state.failures.pop(0) if state.failures else None
    if decision.fault == "content_policy":
        failure = "content_policy"
    rid = str(uuid.uuid4())
    base = _base(request)
    job = _Job(id=rid, app=app, edit=edit, body=body, base=base, endpoint=endpoint)
    state.jobs[rid] = job
    job.task = asyncio.get_running_loop().create_task(_run(state, job, decision.latency_s, failure, first))
    urls = _urls(job)
    return _json(
        {
            "status": "IN_QUEUE",
            "request_id": rid,
            **urls,
            "queue_position": state.queue_polls,
            "logs": None,
            "metrics": {},
        },
        200,
        {"x-fal-request-id": rid},
    )


def _urls(job: _Job) -> dict[str, str]:
    root = f"{job.base}/{job.app}/requests/{job.id}"
    return {"response_url": root, "status_url": f"{root}/status", "cancel_url": f"{root}/cancel"}


def _job(request: web.Request) -> _Job | None:
    state: FalFakeState = request.app[STATE]
    job = state.jobs.get(request.match_info["id"])
    app = f"{request.match_info['owner']}/{request.match_info['app']}"
    return job if job is not None and job.app == app else None


def _not_found() -> web.Response:
    return _json({"detail": "Request not found"}, 404)


async def status(request: web.Request) -> web.Response:
    state: FalFakeState = request.app[STATE]
    job = _job(request)
    state.polled.set()
    if job is None:
        return _not_found()
    job.polls += 1
    logs: list[dict[str, Any]] | None = [] if request.query.get("logs", "0").lower() in ("1", "true") else None
    out: dict[str, Any] = {"request_id": job.id, **_urls(job), "logs": logs, "metrics": {}}
    if job.polls <= state.queue_polls or (job.phase == "IN_QUEUE" and not job.done.is_set()):
        position = max(0, state.queue_polls - job.polls)
        job.answers.append("IN_QUEUE")
        return _json({"status": "IN_QUEUE", "queue_position": position, **out}, 202)  # fal answers 202 until done
    if job.polls <= state.queue_polls + state.progress_polls or not job.done.is_set():
        if logs is not None:
            logs.append(
                {"message": "Generating", "level": "INFO", "source": "user", "timestamp": "2026-01-26T00:00:00Z"}
            )
        job.answers.append("IN_PROGRESS")
        return _json({"status": "IN_PROGRESS", **out}, 202)
    if job.error is not None:
        out["error"] = job.error[1]["detail"] if isinstance(job.error[1]["detail"], str) else CONTENT_POLICY_MSG
        out["error_type"] = job.error_type
    out["metrics"] = {"inference_time": 1.0}
    job.answers.append("COMPLETED")
    return _json({"status": "COMPLETED", **out})


async def result(request: web.Request) -> web.Response:
    job = _job(request)
    if job is None:
        return _not_found()
    if not job.done.is_set():
        return _json({"detail": "Request is still in progress"}, 400)
    if job.error is not None:
        status_code, body, headers = job.error
        return _json(body, status_code, {**headers, "x-fal-request-id": job.id})
    return _json(job.result, 200, {"x-fal-request-id": job.id})


async def cancel(request: web.Request) -> web.Response:
    state: FalFakeState = request.app[STATE]
    job = _job(request)
    if job is None:
        return _json({"status": "NOT_FOUND"}, 404)
    if job.done.is_set():
        return _json({"status": "ALREADY_COMPLETED"}, 400)
    state.canceled.append(job.id)
    if job.task is not None:
        job.task.cancel()
    job.error = (400, {"detail": "Request was cancelled"}, {"X-Fal-Retryable": "false"})
    job.done.set()
    job.phase = "COMPLETED"
    return _json({"status": "CANCELLATION_REQUESTED"}, 202)


async def run_sync(request: web.Request) -> web.StreamResponse:
    """The ``fal.run`` host: the same input, the result in the response."""
    state: FalFakeState = request.app[STATE]
    accepted = await _accept(request, state)
    if isinstance(accepted, web.StreamResponse):
        return accepted
    app, edit, body, first, decision, endpoint = accepted
    job = _Job(id=str(uuid.uuid4()), app=app, edit=edit, body=body, base=_base(request), endpoint=endpoint)
    await _run(state, job, decision.latency_s, "content_policy" if decision.fault else None, first)
    if job.error is not None:
        return _json(job.error[1], job.error[0], job.error[2])
    return _json(job.result, 200, {"x-fal-request-id": job.id})


async def output_file(request: web.Request) -> web.Response:
    state: FalFakeState = request.app[STATE]
    found = state.files.get(request.match_info["name"])
    if found is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(body=found[0], content_type=found[1])


@web.middleware
async def _record_and_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    state: FalFakeState = request.app[STATE]
    state.seen.append(
        {"method": request.method, "path": request.path, "query": dict(request.query), "headers": dict(request.headers)}
    )
    if request.path.startswith("/files/"):
        return await handler(request)
    auth = request.headers.get("Authorization", "")
    if not auth:
        return _json({"detail": "Authentication is required to access this application."}, 401)
    if auth != f"Key {state.key}":
        return _json({"detail": "No user found for Key ID and Secret"}, 401)
    if state.echo_key and request.method == "POST":
        return _json({"detail": f"worker crashed handling credentials={auth.removeprefix('Key ')}"}, 500)
    return await handler(request)


async def _cleanup(app: web.Application) -> None:
    state: FalFakeState = app[STATE]
    for job in state.jobs.values():
        if job.task is not None and not job.task.done():
            job.task.cancel()
    await state.settle()


STATE = web.AppKey("state", FalFakeState)


def create_app(state: FalFakeState | None = None) -> web.Application:
    app = web.Application(middlewares=[_record_and_auth], client_max_size=64 * 1024 * 1024)
    app[STATE] = state or FalFakeState()
    app.router.add_get("/files/{name}", output_file)
    app.router.add_get("/{owner}/{app}/requests/{id}/status", status)
    app.router.add_get("/{owner}/{app}/requests/{id}", result)
    app.router.add_put("/{owner}/{app}/requests/{id}/cancel", cancel)
    app.router.add_post("/run/{owner}/{app}", run_sync)
    app.router.add_post("/run/{owner}/{app}/{path:.+}", run_sync)
    app.router.add_post("/{owner}/{app}", submit)
    app.router.add_post("/{owner}/{app}/{path:.+}", submit)
    app.on_cleanup.append(_cleanup)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"Fake fal.ai queue API ({MODEL})")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9104)
    parser.add_argument("--faults", default="", help='e.g. "p50=20,p95=40,time_scale=0.05,rate_limited=0.05"')
    parser.add_argument("--key", default=FalFakeState.key, help="the FAL_KEY the fake accepts")
    args = parser.parse_args(argv)
    state = FalFakeState(injector=FaultInjector(profile_from_cli(args.faults)), key=args.key)
    url = f"http://{args.host}:{args.port}"
    web.run_app(
        create_app(state),
        host=args.host,
        port=args.port,
        access_log=None,
        print=lambda _msg: print(f"fake fal.ai queue API ready on {url}", flush=True),
    )


if __name__ == "__main__":
    main()
