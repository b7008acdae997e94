"""A protocol-faithful fake of Replicate's HTTP API, serving the official model ``google/nano-banana-pro``.

Speaks what replicate-python and our adapter rely on: ``POST /v1/models/{owner}/{name}/predictions`` with
``Prefer: wait[=N]`` (blocks up to N seconds, scaled by the fault profile's ``time_scale``; answers ``starting``
when the wait runs out, and sometimes ``processing`` with the output already set, as the real API does),
``Cancel-After`` deadlines, the version-based ``POST /v1/predictions``, ``GET``/``cancel``/``stream`` of predictions,
the files API, the model and version objects, and the output image itself (no auth, like ``replicate.delivery``).
Errors are problem+json; inputs are validated against the model's schema.

Run: ``python -m imagegate.testing.fakes.replicate --port 9103 --faults "p50=30,p95=60,time_scale=0.05"``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from aiohttp import web

from imagegate.media.sizes import pixel_size
from imagegate.testing.fakes.replicate.files import file_object, list_files, output_file, upload_file
from imagegate.testing.fakes.replicate.predictions import (
    cancel_prediction,
    create_model_prediction,
    create_version_prediction,
    get_prediction,
    stream_prediction,
)
from imagegate.testing.fakes.replicate.schema import (
    E005,
    MODEL,
    VERSION_ID,
    model_object,
    validate_input,
    version_object,
)
from imagegate.testing.fakes.replicate.state import STATE, ReplicateFakeState, Run, not_found, problem

__all__ = ["E005", "MODEL", "VERSION_ID", "ReplicateFakeState", "Run", "create_app", "pixel_size", "validate_input"]


async def get_model(request: web.Request) -> web.Response:
    if f"{request.match_info['owner']}/{request.match_info['name']}" != MODEL:
        return not_found()
    return web.json_response(model_object(), dumps=lambda o: orjson.dumps(o).decode())


async def get_version(request: web.Request) -> web.Response:
    model = f"{request.match_info['owner']}/{request.match_info['name']}"
    if model != MODEL or request.match_info["version"] != VERSION_ID:
        return not_found()
    return web.json_response(version_object(), dumps=lambda o: orjson.dumps(o).decode())


@web.middleware
async def _record_and_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[STATE]
    body = await request.read() if request.content_type == "application/json" else None
    parsed = None
    with contextlib.suppress(orjson.JSONDecodeError):
        parsed = orjson.loads(body) if body else None
    state.seen.append(
        {
            "method": request.method,
            "path": request.path,
            "prefer": request.headers.get("Prefer"),
            "cancel_after": request.headers.get("Cancel-After"),
            "json": parsed,
        }
    )
    if request.path.startswith("/v1/") and request.headers.get("Authorization") != f"Bearer {state.api_token}":
        return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
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
    app.router.add_get("/v1/files", list_files)
    app.router.add_get("/v1/files/{id}", file_object)
    app.router.add_delete("/v1/files/{id}", file_object)
    app.router.add_get("/v1/files/{id}/download", file_object)
    app.router.add_get("/files/{name}", output_file)
    app.on_cleanup.append(_cleanup)
    return app
