"""``GET /v1/recordings`` and ``DELETE /v1/recordings/{id}`` (the calling key's recordings only)."""

from __future__ import annotations

import asyncio

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.core.errors import GatewayError, InvalidRequest


async def list_recordings(request: Request) -> Response:
    work = request.app.state.services.work
    try:
        limit = int(request.query_params.get("limit", "100"))
    except ValueError:
        raise InvalidRequest("'limit' must be an integer.", param="limit") from None
    if not 1 <= limit <= 1000:
        raise InvalidRequest("'limit' must be between 1 and 1000.", param="limit")
    recs = await asyncio.to_thread(work.recordings.recent, request.state.key_id or "", None, limit)
    body = {"object": "list", "data": [r.summary() for r in recs]}
    return Response(orjson.dumps(body), media_type="application/json")


async def delete_recording(request: Request) -> Response:
    work = request.app.state.services.work
    rec_id = request.path_params["recording_id"]
    if not await asyncio.to_thread(work.recordings.delete, request.state.key_id or "", rec_id):
        raise GatewayError(f"Recording '{rec_id}' not found.", status=404, code="RECORDING_NOT_FOUND")
    body = {"id": rec_id, "object": "recording", "deleted": True}
    return Response(orjson.dumps(body), media_type="application/json")
