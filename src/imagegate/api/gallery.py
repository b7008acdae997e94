"""``GET /v1/gallery``, ``POST /v1/gallery`` (publish), ``DELETE /v1/gallery/{id}`` (publisher or master key)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.images import _read_json
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.gallery import store
from imagegate.gallery.publish import Published, publish, read_blob, token_from_url
from imagegate.gallery.sources import PAGE_SIZE, SOURCES, TASKS, entry_item, gallery_page
from imagegate.store.db import utcnow

MAX_PROMPT = 8000


def owner_of(key_id: str | None) -> str:
    """Who published: the API key's id, or "local" when the gateway has no keys (loopback only)."""
    return f"key:{key_id}" if key_id else "local"


def may_remove(services: Any, key_id: str | None, owner: str | None, row_owner: str | None) -> bool:
    """The publisher may unpublish; the master key (or anyone, on a gateway without keys) may remove any entry."""
    if not services.auth.enabled or key_id == "master":
        return True
    return row_owner is not None and row_owner == owner


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def parse_filters(services: Any, params: Any) -> dict[str, Any]:
    """``model`` (id, alias), ``task``, ``source``, ``competition`` and ``cursor`` from query parameters, validated."""
    out: dict[str, Any] = {"model": None, "task": None, "source": None, "competition": None, "offset": 0}
    if params.get("model"):
        model, _forced = services.catalog.resolve(params["model"])
        out["model"] = model.id
    if params.get("task"):
        if params["task"] not in TASKS:
            raise InvalidRequest(f"Invalid 'task': expected one of {', '.join(TASKS)}.", param="task")
        out["task"] = params["task"]
    if params.get("source"):
        if params["source"] not in SOURCES:
            raise InvalidRequest(f"Invalid 'source': expected one of {', '.join(SOURCES)}.", param="source")
        out["source"] = params["source"]
    if params.get("competition"):
        arena = getattr(services, "arena", None)
        if arena is None or params["competition"] not in arena.competitions:
            raise InvalidRequest(
                f"Invalid 'competition': no arena competition '{params['competition']}'.", param="competition"
            )
        out["competition"] = params["competition"]
    cursor = params.get("cursor")
    if cursor:
        if not cursor.isdigit() or len(cursor) > 9:
            raise InvalidRequest("Invalid 'cursor': pass the 'next_cursor' of the previous page.", param="cursor")
        out["offset"] = int(cursor)
    return out


async def list_gallery(request: Request) -> Response:
    services = request.app.state.services
    filters = parse_filters(services, request.query_params)
    limit_param = request.query_params.get("limit")
    limit = PAGE_SIZE
    if limit_param:
        if not limit_param.isdigit() or not 1 <= int(limit_param) <= PAGE_SIZE:
            raise InvalidRequest(f"'limit' must be between 1 and {PAGE_SIZE}.", param="limit")
        limit = int(limit_param)
    page = await gallery_page(services, limit=limit, **filters)
    data = [{k: v for k, v in item.items() if k != "owner"} for item in page.items]
    body = {
        "object": "list",
        "data": data,
        "total": page.total,
        "next_cursor": None if page.next_offset is None else str(page.next_offset),
    }
    return _json(body)


def _text(data: dict[str, Any], key: str, limit: int) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"'{key}' must be a non-empty string.", param=key)
    if len(value) > limit:
        raise InvalidRequest(f"'{key}' is too long: the maximum is {limit} characters.", param=key)
    return value.strip()


async def publish_from_generation(services: Any, generation_id: str, owner: str, index: int, admin: bool) -> Any:
    """Publish image ``index`` of one playground run; only its owner (or the admin) may."""
    import json

    row = await asyncio.to_thread(store.get_generation, services.db, generation_id)
    if row is None or (row.owner != owner and not admin):
        raise GatewayError("No such generation.", status=404, code="NOT_FOUND", param="generation_id")
    result = json.loads(row.result_json)
    images = result.get("data") or []
    if not 0 <= index < len(images) or not images[index].get("url"):
        raise InvalidRequest("'index' does not name an image of this generation.", param="index")
    data, mime = await read_blob(services.blobs, token_from_url(images[index]["url"]))
    meta = result.get("metadata") or {}
    attempts = [a for a in meta.get("attempts", []) if a.get("outcome") == "success"]
    request_fields = json.loads(row.request_json).get("fields", {})
    shape = " ".join(str(request_fields[k]) for k in ("aspect_ratio", "resolution") if request_fields.get(k))
    published = Published(
        model=meta.get("model") or row.model,
        prompt=row.prompt,
        task="image-editing" if row.operation == "edit" else "text-to-image",
        provider=meta.get("provider"),
        executed_model=meta.get("executed_model"),
        size=result.get("size") or request_fields.get("size") or shape or None,
        cost_micros=meta.get("cost_micros"),
        latency_ms=result.get("latency_ms") or (attempts[-1]["latency_ms"] if attempts else None),
        generation_id=row.id,
    )
    return await publish(services, data, mime, published, row.owner)


async def create_entry(request: Request) -> Response:
    services = request.app.state.services
    data = await _read_json(request, 64 * 1024)
    key_id = request.state.key_id
    owner = owner_of(key_id)
    generation_id = data.get("generation_id")
    if generation_id is not None:
        if not isinstance(generation_id, str):
            raise InvalidRequest("'generation_id' must be a string.", param="generation_id")
        index = data.get("index", 0)
        if not isinstance(index, int) or isinstance(index, bool):
            raise InvalidRequest("'index' must be an integer.", param="index")
        row = await publish_from_generation(services, generation_id, owner, index, admin=key_id == "master")
        return _json(entry_item(row, services.pages.base_url), 201)
    image_url = _text(data, "image_url", 4096)
    if image_url is None:
        raise InvalidRequest("Missing required parameter: 'image_url' or 'generation_id'.", param="image_url")
    prompt = _text(data, "prompt", MAX_PROMPT)
    model_name = _text(data, "model", 200)
    if prompt is None:
        raise InvalidRequest("Missing required parameter: 'prompt'.", param="prompt")
    if model_name is None:
        raise InvalidRequest("Missing required parameter: 'model'.", param="model")
    model, _forced = services.catalog.resolve(model_name)
    task = data.get("task", "text-to-image")
    if task not in TASKS:
        raise InvalidRequest(f"Invalid 'task': expected one of {', '.join(TASKS)}.", param="task")
    blob, mime = await read_blob(services.blobs, token_from_url(image_url))
    provider = _text(data, "provider", 64)
    row = await publish(
        services, blob, mime, Published(model=model.id, prompt=prompt, task=task, provider=provider), owner
    )
    return _json(entry_item(row, services.pages.base_url), 201)


async def delete_entry(request: Request) -> Response:
    services = request.app.state.services
    entry_id = request.path_params["entry_id"]
    row = await asyncio.to_thread(store.get_entry, services.db, entry_id)
    key_id = request.state.key_id
    if row is None:
        raise GatewayError("No such gallery entry.", status=404, code="NOT_FOUND")
    if not may_remove(services, key_id, owner_of(key_id), row.owner):
        raise GatewayError("Only the publisher or the master key may remove this entry.", status=403, code="FORBIDDEN")
    await asyncio.to_thread(store.delete_entry, services.db, entry_id, utcnow())
    return _json({"id": entry_id, "object": "gallery.entry", "deleted": True})
