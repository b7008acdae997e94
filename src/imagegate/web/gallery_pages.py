"""``/gallery`` and ``/models/{creator}/{model}/gallery``: every gallery source, filtered and paged (48 a page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate.api.gallery import parse_filters
from imagegate.core.errors import ModelNotFound
from imagegate.gallery.sources import PAGE_SIZE, SOURCES, TASKS, creator_slug, gallery_page, model_path
from imagegate.web.routes import page
from imagegate.web.session import CSRF_FIELD, csrf_token, sessioned, web_identity


async def _render(request: Request, filters: dict[str, Any], base_path: str, fixed_model: Any = None) -> Response:
    services = request.app.state.services
    result = await gallery_page(services, **filters)
    _key, owner = await web_identity(request)
    names = {m.id: m for m in services.catalog.models()}
    for item in result.items:
        m = names.get(item["model"])
        item["model_name"] = m.name if m else item["model"]
        item["model_url"] = model_path(m) if m else None
        item["removable"] = owner is not None and item["source"] == "published" and item.get("owner") == owner

    def link(**changes: Any) -> str:
        params = {
            k: v
            for k, v in {
                "model": None if fixed_model else filters["model"],
                "task": filters["task"],
                "source": filters["source"],
                "competition": filters["competition"],
            }.items()
            if v
        }
        params.update({k: v for k, v in changes.items() if v is not None})
        params = {k: v for k, v in params.items() if v != ""}
        return base_path + ("?" + urlencode(params) if params else "")

    ctx = {
        "title": f"Gallery — {fixed_model.name}" if fixed_model else "Gallery",
        "items": result.items,
        "total": result.total,
        "offset": result.offset,
        "page_size": PAGE_SIZE,
        "next_url": None if result.next_offset is None else link(cursor=str(result.next_offset)),
        "prev_url": None if result.offset == 0 else link(cursor=str(max(0, result.offset - PAGE_SIZE)) or ""),
        "filters": filters,
        "models": services.catalog.models(),
        "fixed_model": fixed_model,
        "fixed_model_url": model_path(fixed_model) if fixed_model else None,
        "tasks": TASKS,
        "sources": SOURCES,
        "competitions": _competitions(services),
        "base_path": base_path,
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "link": link,
    }
    return services.pages.render(request, "gallery", ctx)


def _competitions(services: Any) -> list[Any]:
    """The arena's competitions for the filter form (none when the gateway has no arena)."""
    arena = getattr(services, "arena", None)
    return sorted(arena.competitions.values(), key=lambda c: c.title) if arena is not None else []


async def gallery(request: Request) -> Response:
    services = request.app.state.services
    return await _render(request, parse_filters(services, request.query_params), "/gallery")


async def model_gallery(request: Request) -> Response:
    services = request.app.state.services
    name = request.path_params["model"]
    if name.endswith(".md"):
        name = name[:-3]
    model = services.catalog.get(name)
    if model is None or creator_slug(model) != request.path_params["creator"]:
        raise ModelNotFound(name)
    filters = parse_filters(services, {k: v for k, v in request.query_params.items() if k != "model"})
    filters["model"] = model.id
    return await _render(request, filters, f"{model_path(model)}/gallery", fixed_model=model)


def routes() -> list[Route]:
    return sessioned([*page("/gallery", gallery), *page("/models/{creator}/{model}/gallery", model_gallery)])
