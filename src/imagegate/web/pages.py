"""The pages themselves: each handler builds a context and renders it (``web.render``)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from imagegate.catalog.schema import ModelRecord
from imagegate.web import model_data, params
from imagegate.web.render import PageRenderer
from imagegate.web.routes import page, page_endpoint

SORTS = {"price": "cheapest 1K price", "rating": "arena rating", "latency": "p50 latency", "name": "name"}
TASKS = ("text-to-image", "image-editing")


def renderer(request: Request) -> PageRenderer:
    return request.app.state.services.pages


async def home(request: Request) -> Response:
    services = request.app.state.services
    models = services.catalog.models()
    return renderer(request).render(
        request,
        "home",
        {
            "models": models,
            "urls": {m.id: model_data.model_url(m) for m in models},
            "providers": sorted(services.providers),
            "auth_enabled": services.auth.enabled,
        },
    )


async def models_list(request: Request) -> Response:
    services = request.app.state.services
    q = request.query_params
    creator, task, tag, sort = q.get("creator") or "", q.get("task") or "", q.get("tag") or "", q.get("sort") or ""
    error = None
    if sort and sort not in SORTS:
        error = f"Unknown sort '{sort}': use one of {', '.join(SORTS)}."
    if task and task not in TASKS:
        error = f"Unknown task '{task}': use one of {', '.join(TASKS)}."
    active = set(services.providers)
    snap = services.perf.snapshot if services.perf is not None else None
    rows = []
    all_models = services.catalog.models()
    for m in all_models:
        if creator and m.creator_key != creator:
            continue
        if task and task not in m.tasks:
            continue
        if tag and tag not in m.tags:
            continue
        offers = model_data.static_offers(services, m)
        summary = await model_data.arena_summary(services, m.id)
        overall = snap.overall(m.id) if snap is not None else None
        rows.append(
            {
                "model": m,
                "url": model_data.model_url(m),
                "price": model_data.cheapest_1k(offers),
                "providers": [o.provider_name for o in m.offers if o.provider in active],
                "rating": model_data.arena_rating(summary),
                "p50": overall["latency_p50_ms"] if overall else None,
            }
        )
    if sort == "price":
        rows.sort(key=lambda r: (r["price"] is None, r["price"] or 0, r["model"].name))
    elif sort == "rating":
        rows.sort(key=lambda r: (r["rating"] is None, -(r["rating"] or 0), r["model"].name))
    elif sort == "latency":
        rows.sort(key=lambda r: (r["p50"] is None, r["p50"] or 0, r["model"].name))
    elif sort == "name":
        rows.sort(key=lambda r: r["model"].name.lower())
    creators = sorted({(m.creator_key, m.creator) for m in all_models})
    tags = sorted({t for m in all_models for t in m.tags})
    context = {
        "rows": rows,
        "filters": {"creator": creator, "task": task, "tag": tag, "sort": sort},
        "creators": creators,
        "tags": tags,
        "tasks": TASKS,
        "sorts": SORTS,
        "error": error,
        "total": len(all_models),
    }
    return renderer(request).render(request, "models", context, status_code=400 if error else 200)


def _lookup(request: Request, suffix: str) -> ModelRecord | Response:
    """The model a page path names, a redirect to its canonical path (alias or wrong creator), or the 404 page."""
    services = request.app.state.services
    creator, slug = request.path_params["creator"], request.path_params["model"]
    path = request.url.path
    ext = ".md" if path.endswith(".md") else ""
    if ext and slug.endswith(".md"):
        slug = slug[:-3]
    model = services.catalog.get(slug)
    if model is None:
        return renderer(request).render(
            request, "notfound", {"what": f"{creator}/{slug}", "models": services.catalog.models()}, status_code=404
        )
    if model.id != slug or model.creator_key != creator:
        tail = suffix if suffix else ""
        target = model_data.model_url(model) + tail + ("" if tail.endswith("llms.txt") else ext)
        return RedirectResponse(target, status_code=308)
    return model


async def model_page(request: Request) -> Response:
    found = _lookup(request, "/llms.txt" if request.url.path.endswith("/llms.txt") else "")
    if isinstance(found, Response):
        return found
    services = request.app.state.services
    r = renderer(request)
    arena = await model_data.arena_summary(services, found.id)
    stamp = services.perf.snapshot.taken_at if services.perf is not None else 0.0
    key = (found.id, stamp, fingerprint(arena), len(services.providers))

    async def build() -> dict[str, Any]:
        return await model_data.model_context(services, found, set(r.registered(request)), arena=arena)

    return await r.render_cached(request, "model", key, build)


def fingerprint(value: Any) -> bytes:
    """A cache key for plain data (the arena's summary)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return repr(value).encode()


async def providers_page(request: Request) -> Response:
    found = _lookup(request, "/providers")
    if isinstance(found, Response):
        return found
    services = request.app.state.services
    r = renderer(request)
    context = await model_data.model_context(services, found, set(r.registered(request)))
    context["routing"] = await model_data.router_view(services, found)
    perf_by_provider = {p["provider"]: p for p in context["perf"]["providers"]}
    context["perf_by_provider"] = perf_by_provider
    return r.render(request, "providers", context)


async def api_page(request: Request) -> Response:
    found = _lookup(request, "/api")
    if isinstance(found, Response):
        return found
    services = request.app.state.services
    r = renderer(request)
    limits = services.limits

    async def build() -> dict[str, Any]:
        return {
            "model": found,
            "url": model_data.model_url(found),
            "table": params.table(found, limits.max_prompt_chars, limits.max_n),
            "examples": model_data.examples(r.base_url + "/v1", found.id, "image-editing" in found.tasks),
            "schema_url": f"{r.base_url}/v1/models/{found.id}?schema=true",
        }

    return await r.render_cached(request, "api", found.id, build)  # catalog data only


async def site_index(request: Request) -> Response:
    services = request.app.state.services
    models = services.catalog.models()
    return renderer(request).render(
        request, "llms", {"models": models, "urls": {m.id: model_data.model_url(m) for m in models}}
    )


def routes() -> list[Route]:
    from imagegate.web import gallery_pages, playground

    model = "/models/{creator}/{model}"
    from imagegate.web import arena_pages, usage

    return [
        *page("/", home),
        *playground.routes(),
        *gallery_pages.routes(),
        *usage.routes(),
        *arena_pages.routes(),
        *page("/models", models_list),
        *page(f"{model}/providers", providers_page),
        *page(f"{model}/api", api_page),
        Route(f"{model}/llms.txt", page_endpoint(model_page), methods=["GET", "HEAD"]),
        *page(model, model_page),
        Route("/llms.txt", page_endpoint(site_index), methods=["GET", "HEAD"]),
    ]
