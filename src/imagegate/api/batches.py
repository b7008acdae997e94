"""OpenAI's Batch API: ``POST /v1/batches``, ``GET /v1/batches[/{id}]``, ``POST /v1/batches/{id}/cancel``."""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.images import _read_json
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.jobs.batches.service import batch_json

MAX_CREATE_BODY = 64 * 1024


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _not_found(batch_id: str) -> GatewayError:
    return GatewayError(f"No such Batch object: {batch_id}", status=404, code="BATCH_NOT_FOUND")


async def create_batch(request: Request) -> Response:
    work = request.app.state.services.work
    body = await _read_json(request, MAX_CREATE_BODY)
    batch = await work.batches.create(request.state.key_id or "", body)
    work.runner.poke("batches")
    return _json(batch)


async def retrieve_batch(request: Request) -> Response:
    work = request.app.state.services.work
    batch_id = request.path_params["batch_id"]
    row = await asyncio.to_thread(work.batches.store.get, batch_id, request.state.key_id or "")
    if row is None:
        raise _not_found(batch_id)
    return _json(batch_json(row))


async def list_batches(request: Request) -> Response:
    work = request.app.state.services.work
    try:
        limit = int(request.query_params.get("limit", "20"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= limit <= 100:
        raise InvalidRequest("'limit' must be between 1 and 100.", param="limit")
    after = request.query_params.get("after")
    rows = await asyncio.to_thread(work.batches.store.list, request.state.key_id or "", limit + 1, after)
    data = [batch_json(r) for r in rows[:limit]]
    return _json(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > limit,
        }
    )


async def cancel_batch(request: Request) -> Response:
    work = request.app.state.services.work
    batch_id = request.path_params["batch_id"]
    row = await asyncio.to_thread(work.batches.store.cancel, batch_id, request.state.key_id or "")
    if row is None:
        raise _not_found(batch_id)
    return _json(batch_json(row))
