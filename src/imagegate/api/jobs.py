"""``GET /v1/jobs/{id}``, ``POST /v1/jobs/{id}/cancel``, and the key's webhook secret (``/v1/webhooks/secret``)."""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.core.errors import GatewayError


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _owner(request: Request) -> str:
    return request.state.key_id or ""


def _not_found(job_id: str) -> GatewayError:
    return GatewayError(f"Job '{job_id}' not found.", status=404, code="JOB_NOT_FOUND")


async def retrieve_job(request: Request) -> Response:
    job_id = request.path_params["job_id"]
    job = await request.app.state.services.work.job(job_id, _owner(request))
    if job is None:
        raise _not_found(job_id)
    return _json(job)


async def cancel_job(request: Request) -> Response:
    work = request.app.state.services.work
    job_id = request.path_params["job_id"]
    row = await asyncio.to_thread(work.jobs.cancel, job_id, _owner(request))
    if row is None:
        raise _not_found(job_id)
    work.runner.poke()
    return _json(await work.job(job_id, _owner(request)))


async def webhook_secret(request: Request) -> Response:
    """GET: whether the key has a secret (never the secret). POST: a new secret, shown in this answer only."""
    work = request.app.state.services.work
    owner = _owner(request)
    if request.method == "POST":
        row = await asyncio.to_thread(work.secrets.rotate, owner)
        return _json({"object": "webhook.secret", "secret": row.secret, "created_at": int(row.created_at.timestamp())})
    row = await asyncio.to_thread(work.secrets.get, owner)
    body: dict[str, object] = {"object": "webhook.secret", "exists": row is not None}
    if row is not None:
        body["created_at"] = int(row.created_at.timestamp())
    return _json(body)
