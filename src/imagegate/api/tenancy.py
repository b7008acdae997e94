"""Keys, balance and spend over HTTP.

- ``/v1/admin/keys`` (``POST``, ``GET``) and ``/v1/admin/keys/{id}`` (``GET``, ``PATCH``, ``DELETE``): the master key
  only. ``POST`` answers the key with its ``id`` and, this once, its secret as ``key``.
- ``/v1/admin/spend?group_by=key|model|provider|day&from=&to=``: the master key only.
- ``/v1/balance`` and ``/v1/spend``: the calling key's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.api.images import _read_json
from imagegate.core.errors import GatewayError
from imagegate.tenancy.policy import Principal, parse_key_body
from imagegate.tenancy.spend import parse_window, spend_report

_MAX_KEY_BODY = 64 * 1024


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _require_master(request: Request) -> None:
    principal: Principal | None = request.state.principal
    if principal is None or not principal.is_master:
        err = GatewayError(
            "The admin API needs the master key (IMAGEGATE_MASTER_KEY) as the bearer token.",
            status=403,
            code="PERMISSION_DENIED",
        )
        err.type = "permission_error"
        raise err


def _not_found(key_id: str) -> GatewayError:
    err = GatewayError(f"No API key '{key_id}'.", status=404, code="NOT_FOUND", param="id")
    err.type = "invalid_request_error"
    return err


async def create_key(request: Request) -> Response:
    _require_master(request)
    services = request.app.state.services
    fields = parse_key_body(await _read_json(request, _MAX_KEY_BODY), services.catalog)
    view, secret = await asyncio.to_thread(services.tenancy.keys.create, fields)
    services.tenancy.directory.invalidate()
    return _json({**view, "key": secret}, status=201)


async def list_keys(request: Request) -> Response:
    _require_master(request)
    keys = await asyncio.to_thread(request.app.state.services.tenancy.keys.list)
    return _json({"object": "list", "data": keys})


async def get_key(request: Request) -> Response:
    _require_master(request)
    key_id = request.path_params["key_id"]
    view = await asyncio.to_thread(request.app.state.services.tenancy.keys.get, key_id)
    if view is None:
        raise _not_found(key_id)
    return _json(view)


async def update_key(request: Request) -> Response:
    _require_master(request)
    services = request.app.state.services
    key_id = request.path_params["key_id"]
    fields = parse_key_body(await _read_json(request, _MAX_KEY_BODY), services.catalog, partial=True)
    view = await asyncio.to_thread(services.tenancy.keys.update, key_id, fields)
    services.tenancy.directory.invalidate()
    if view is None:
        raise _not_found(key_id)
    return _json(view)


async def revoke_key(request: Request) -> Response:
    _require_master(request)
    key_id = request.path_params["key_id"]
    tenancy = request.app.state.services.tenancy
    view = await asyncio.to_thread(tenancy.keys.revoke, key_id)
    tenancy.directory.invalidate()
    if view is None:
        raise _not_found(key_id)
    return _json({**view, "deleted": True})


async def admin_spend(request: Request) -> Response:
    _require_master(request)
    return await _spend(request, key_id=None, default_group="key")


async def own_spend(request: Request) -> Response:
    principal: Principal | None = request.state.principal
    if principal is None:
        raise GatewayError("Spend is per API key; this gateway has none configured.", status=404, code="NOT_FOUND")
    return await _spend(request, key_id=principal.key_id, default_group="model")


async def _spend(request: Request, key_id: str | None, default_group: str) -> Response:
    q = request.query_params
    start, end = parse_window(q.get("from"), q.get("to"))
    db = request.app.state.services.db
    body = await asyncio.to_thread(spend_report, db, q.get("group_by") or default_group, start, end, key_id)
    if key_id is not None:
        body["key_id"] = key_id
    return _json(body)


async def balance(request: Request) -> Response:
    return _json(await request.app.state.services.tenancy.balance(request.state.principal))
