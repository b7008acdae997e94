"""The arena's API: ``/v1/arena/...`` (battles, votes, boards, competitions, categories, FastChat import/export)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate.api.images import _read_json
from imagegate.core.errors import GatewayError, InvalidRequest, PayloadTooLarge

VOTER_COOKIE = "imagegate_arena_voter"
IMPORT_LIMIT = 256 * 1024 * 1024


class Forbidden(GatewayError):
    status = 403
    code = "PERMISSION_DENIED"
    type = "invalid_request_error"


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def arena(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.services.arena


def voter_of(request: Request) -> tuple[str, str | None]:
    """``(voter id, cookie to set or None)``: the API key, else the browser's anonymous id (set when missing)."""
    key_id = getattr(request.state, "key_id", None)
    if key_id:
        return f"key:{key_id}", None
    cookie = request.cookies.get(VOTER_COOKIE)
    if cookie and 8 <= len(cookie) <= 64 and cookie.isalnum():
        return _browser(cookie), None
    fresh = secrets.token_hex(16)
    return _browser(fresh), fresh


def _browser(cookie: str) -> str:
    """The stored (and exported) voter id is a digest: the cookie itself never leaves the browser again."""
    return "browser:" + hashlib.sha256(cookie.encode()).hexdigest()[:24]


def with_voter_cookie(response: Response, fresh: str | None) -> Response:
    if fresh:
        response.set_cookie(VOTER_COOKIE, fresh, max_age=365 * 86400, httponly=True, samesite="lax")
    return response


def require_admin(request: Request) -> None:
    services = request.app.state.services
    if services.auth.enabled and getattr(request.state, "key_id", None) != "master":
        raise Forbidden("This needs the gateway's master key (IMAGEGATE_MASTER_KEY).")


async def create_battle(request: Request) -> Response:
    data = await _read_json(request, 64 * 1024)
    competition = data.get("competition")
    if competition is not None and not isinstance(competition, str):
        raise InvalidRequest("'competition' must be a string.", param="competition")
    body = await arena(request).battle(data.get("task"), competition)
    _, fresh = voter_of(request)
    return with_voter_cookie(_json(body), fresh)


async def get_battle(request: Request) -> Response:
    return _json(await arena(request).get_battle(request.path_params["battle_id"]))


async def reveal_battle(request: Request) -> Response:
    return _json(await arena(request).reveal(request.path_params["battle_id"]))


async def vote(request: Request) -> Response:
    data = await _read_json(request, 16 * 1024)
    voter, fresh = voter_of(request)
    body = await arena(request).vote(request.path_params["battle_id"], data.get("winner"), voter)
    return with_voter_cookie(_json(body), fresh)


async def leaderboard(request: Request) -> Response:
    q = request.query_params
    return _json(arena(request).leaderboard(q.get("task"), q.get("competition"), q.get("category")))


async def list_competitions(request: Request) -> Response:
    svc = arena(request)
    task = request.query_params.get("task")
    items = [svc.describe(c) for c in svc.competitions.values() if not task or c.task == task]
    return _json({"object": "list", "data": items})


async def list_categories(request: Request) -> Response:
    svc = arena(request)
    return _json({"object": "list", "data": [svc.describe(c) for c in svc.categories.values()]})


async def add_competition(request: Request) -> Response:
    require_admin(request)
    data = await _read_json(request, request.app.state.services.settings.max_upload_bytes)
    return _json(await arena(request).add_definition("competition", data), status=201)


async def add_category(request: Request) -> Response:
    require_admin(request)
    data = await _read_json(request, 64 * 1024)
    return _json(await arena(request).add_definition("category", data), status=201)


async def import_battles(request: Request) -> Response:
    require_admin(request)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > IMPORT_LIMIT:
            raise PayloadTooLarge(f"Battle file too large: the limit is {IMPORT_LIMIT} bytes.")
        chunks.append(chunk)
    q = request.query_params
    body = await arena(request).import_battles(b"".join(chunks), q.get("task"), q.get("competition"))
    return _json(body)


async def export_battles(request: Request) -> Response:
    import asyncio

    rows = await asyncio.to_thread(lambda: list(arena(request).export_battles()))
    if request.query_params.get("format") == "jsonl":
        return Response(b"".join(orjson.dumps(r) + b"\n" for r in rows), media_type="application/x-ndjson")
    return _json(rows)


def arena_routes(prefix: str, endpoint) -> list[Route]:  # type: ignore[no-untyped-def]
    """``endpoint`` wraps each handler with the API's request id and auth (``api.app.api_endpoint``)."""
    base = f"{prefix}/arena"
    return [
        Route(f"{base}/battles:import", endpoint(import_battles), methods=["POST"]),
        Route(f"{base}/battles:export", endpoint(export_battles), methods=["GET"]),
        Route(f"{base}/battles", endpoint(create_battle), methods=["POST"]),
        Route(f"{base}/battles/{{battle_id}}", endpoint(get_battle), methods=["GET"]),
        Route(f"{base}/battles/{{battle_id}}/vote", endpoint(vote), methods=["POST"]),
        Route(f"{base}/battles/{{battle_id}}/reveal", endpoint(reveal_battle), methods=["POST"]),
        Route(f"{base}/leaderboard", endpoint(leaderboard), methods=["GET"]),
        Route(f"{base}/competitions", endpoint(list_competitions), methods=["GET"]),
        Route(f"{base}/competitions", endpoint(add_competition), methods=["POST"]),
        Route(f"{base}/categories", endpoint(list_categories), methods=["GET"]),
        Route(f"{base}/categories", endpoint(add_category), methods=["POST"]),
    ]
