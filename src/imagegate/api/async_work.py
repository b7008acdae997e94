"""The image endpoints' hook into ``imagegate.jobs``: async jobs (``webhook_url``, ``Prefer: respond-async``) and
record / replay / mock (``X-Imagegate-Replay``). ``None`` leaves the request to the normal synchronous path."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.encode import PartsResponse, encode_answer
from imagegate.core.types import ImageRequest
from imagegate.jobs import codec


def wants_async(request: Request) -> bool:
    prefer = request.headers.get("prefer", "")
    return any(p.strip().lower() == "respond-async" for p in prefer.split(","))


async def intercept(request: Request, image_request: ImageRequest) -> Response | None:
    work = getattr(request.app.state.services, "work", None)
    if work is None:
        return None
    opts = work.options(request.headers, image_request.key_id)
    webhook_url = image_request.extra.pop("webhook_url", None)
    if webhook_url is not None or wants_async(request):
        job = await work.submit(image_request, opts, webhook_url)
        return Response(
            orjson.dumps(job),
            status_code=202,
            media_type="application/json",
            headers={"X-Imagegate-Request-Id": image_request.request_id, "Location": f"/v1/jobs/{job['id']}"},
        )
    if opts.mode == "off":
        return None
    raw = getattr(request.state, "match_body", None)
    outcome = await work.executor.run(image_request, opts, codec.body_hash(raw) if raw is not None else None)
    return PartsResponse(encode_answer(outcome.body), headers=outcome.headers)
