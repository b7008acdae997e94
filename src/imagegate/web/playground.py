"""``/playground``: try any model in the browser, through this gateway's own API, as the visitor's key.

Without JavaScript every action is a plain form POST answered with the whole page; with it (``playground.js``) the
same endpoints answer ``{"html": {element id: fragment}}`` when asked with ``Accept: application/json``, and the
script swaps the fragments in. Fragments are the same Jinja partials the full page includes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from imagegate.core.errors import AuthenticationFailed, GatewayError
from imagegate.gallery import store
from imagegate.gallery.sources import model_path
from imagegate.store.db import utcnow
from imagegate.store.gallery_models import WebGenerationRow
from imagegate.web.apicall import call_api
from imagegate.web.playground_code import snippets
from imagegate.web.playground_form import MAX_UPLOAD_FILES, SORTS, PlaygroundInput, model_options, read_input
from imagegate.web.session import (
    CSRF_FIELD,
    CSRF_HEADER,
    check_csrf,
    csrf_token,
    sessioned,
    sign_in,
    sign_out,
    web_identity,
)

HISTORY_SIZE = 24


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def _model_or_default(services: Any, name: str | None) -> tuple[Any, str | None]:
    models = services.catalog.models()
    if name:
        try:
            return services.catalog.resolve(name)[0], None
        except GatewayError as exc:
            return models[0], str(exc)
    return models[0], None


async def estimates(request: Request, key: str | None, inp: PlaygroundInput) -> dict[str, Any]:
    """The dry-run estimate of every candidate offer (each forced by its ``provider/model`` prefix) and of the
    request as it stands (the offer the router would pick)."""
    services = request.app.state.services
    model, _ = services.catalog.resolve(inp.model)
    offers = services.gateway.offers_for(model)

    async def dry(candidate: PlaygroundInput) -> tuple[bool, Any]:
        path, body, form = candidate.api_request()
        reply = await call_api(request, "POST", path, key=key, json=body, form=form, query="dryRun=true")
        return (True, reply.json()) if reply.ok else (False, reply.error_message())

    forced = []
    for offer in offers:
        one = PlaygroundInput(**{**inp.echo(), "provider": offer.provider, "order": "", "sort": "", "max_price": ""})
        one.images, one.mask = inp.images, inp.mask
        forced.append(dry(one))
    chosen, *each = await asyncio.gather(dry(inp), *forced)
    rows = []
    for offer, (ok, value) in zip(offers, each, strict=True):
        rows.append(
            {
                "provider": offer.provider,
                "provider_name": offer.provider_name,
                "ok": ok,
                "cost": value["total_cost_micros"] / 1_000_000 if ok else None,
                "error": None if ok else value,
                "chosen": chosen[0] and chosen[1]["provider"] == offer.provider,
            }
        )
    return {
        "rows": rows,
        "ok": chosen[0],
        "error": None if chosen[0] else chosen[1],
        "provider": chosen[1]["provider"] if chosen[0] else None,
        "cost": chosen[1]["total_cost_micros"] / 1_000_000 if chosen[0] else None,
        "operation": inp.operation,
    }


def generation_view(request: Request, row: WebGenerationRow, published: dict[str, str]) -> dict[str, Any]:
    services = request.app.state.services
    answer = json.loads(row.result_json)
    sent = json.loads(row.request_json)
    meta = {
        "provider": None,
        "provider_name": None,
        "executed_model": None,
        "cost": None,
        **(answer.get("metadata") or {}),
    }
    attempts = meta.get("attempts") or []
    longest = max((a.get("latency_ms") or 0 for a in attempts), default=0) or 1
    for a in attempts:
        for name in ("hedged", "status", "error"):
            a.setdefault(name, None)
        a["width_pct"] = max(2, round(100 * (a.get("latency_ms") or 0) / longest))
    fields = sent["fields"]
    api_base = services.pages.base_url + "/v1"
    code = snippets(api_base, row.operation, fields, sent.get("files", []), sent.get("mask"), services.auth.enabled)
    return {
        "id": row.id,
        "model": row.model,
        "prompt": row.prompt,
        "operation": row.operation,
        "created": row.created_at,
        "expires": row.expires_at,
        "images": [{"index": i, "url": d.get("url")} for i, d in enumerate(answer.get("data") or [])],
        "meta": meta,
        "size": answer.get("size") or fields.get("size") or fields.get("aspect_ratio"),
        "latency_ms": answer.get("latency_ms"),
        "attempts": attempts,
        "code": code,
        "published": published.get(row.id),
    }


async def history(request: Request, owner: str | None) -> list[dict[str, Any]]:
    if owner is None:
        return []
    services = request.app.state.services
    rows = await asyncio.to_thread(store.generations_of, services.db, owner, utcnow(), HISTORY_SIZE)
    published = await asyncio.to_thread(store.published_from, services.db, [r.id for r in rows])
    return [generation_view(request, r, published) for r in rows]


async def context(
    request: Request,
    inp: PlaygroundInput,
    *,
    key: str | None,
    owner: str | None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    key_error: str | None = None,
    with_estimates: bool = True,
) -> dict[str, Any]:
    services = request.app.state.services
    model, _ = services.catalog.resolve(inp.model)
    options = [model_options(services.gateway, m, services.limits.max_n) for m in services.catalog.models()]
    current = next(o for o in options if o["id"] == model.id)
    needs_key = services.auth.enabled and key is None
    est = None
    if with_estimates and not needs_key and inp.prompt.strip():
        est = await estimates(request, key, inp)
    return {
        "title": "Playground",
        "inp": inp.echo(),
        "model": model,
        "model_url": model_path(model),
        "options": options,
        "current": current,
        "sorts": SORTS,
        "estimates": est,
        "result": result,
        "error": error,
        "key_error": key_error,
        "needs_key": needs_key,
        "signed_in": key is not None,
        "auth_enabled": services.auth.enabled,
        "history": await history(request, owner),
        "csrf": csrf_token(request),
        "csrf_field": CSRF_FIELD,
        "url_ttl_s": services.settings.url_ttl_s,
    }


def _fragments(request: Request, ctx: dict[str, Any], names: dict[str, str]) -> Response:
    renderer = request.app.state.services.pages
    values = {**renderer.globals(request), **ctx}
    html = {elem: renderer.html.get_template(f"{tpl}.html").render(values) for elem, tpl in names.items()}
    return Response(orjson.dumps({"html": html, "error": ctx.get("error")}), media_type="application/json")


async def playground_page(request: Request) -> Response:
    services = request.app.state.services
    key, owner = await web_identity(request)
    model, error = _model_or_default(services, request.query_params.get("model"))
    inp = PlaygroundInput(model=model.id, prompt=request.query_params.get("prompt", ""))
    result = await _earlier_run(request, owner, request.query_params.get("generation"))
    if result is not None:  # one of this browser's runs again, with its form filled in
        sent = json.loads(result.pop("_request"))["fields"]
        inp = _input_from_fields(services, sent, inp)
    ctx = await context(request, inp, key=key, owner=owner, error=error, result=result)
    return services.pages.render(request, "playground", ctx, status_code=404 if error else 200)


async def _earlier_run(request: Request, owner: str | None, generation_id: str | None) -> dict[str, Any] | None:
    if not generation_id or owner is None:
        return None
    services = request.app.state.services
    row = await asyncio.to_thread(store.get_generation, services.db, generation_id)
    if row is None or row.owner != owner or row.expires_at <= utcnow():
        return None
    published = await asyncio.to_thread(store.published_from, services.db, [row.id])
    return {**generation_view(request, row, published), "_request": row.request_json}


def _input_from_fields(services: Any, sent: dict[str, Any], default: PlaygroundInput) -> PlaygroundInput:
    model_name = str(sent.get("model", default.model))
    try:
        model, forced = services.catalog.resolve(model_name)
    except GatewayError:
        return default
    prefs = sent.get("provider") or {}
    inp = PlaygroundInput(
        model=model.id,
        prompt=str(sent.get("prompt", "")),
        provider=forced or "",
        order=",".join(prefs.get("order") or []),
        sort=str(prefs.get("sort") or ""),
        max_price=str(prefs.get("max_price") or ""),
        size_mode="size" if sent.get("size") else "aspect",
        n=str(sent.get("n") or "1"),
    )
    for name in ("size", "aspect_ratio", "resolution", "output_format", "output_compression", "quality", "seed"):
        value = sent.get(name)
        setattr(inp, name, "" if value is None else str(value))
    return inp


async def _form(request: Request) -> Any:
    form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=64)
    sent = form.get(CSRF_FIELD)
    check_csrf(request, sent if isinstance(sent, str) else request.headers.get(CSRF_HEADER))
    return form


async def _signed_in(request: Request) -> tuple[str | None, str]:
    key, owner = await web_identity(request)
    if owner is None:
        raise AuthenticationFailed("Enter your API key first.")
    return key, owner


async def run(request: Request) -> Response:
    """``POST /playground``: run the request through the API and show the result (or the API's error) in place."""
    services = request.app.state.services
    form = await _form(request)
    key, owner = await _signed_in(request)
    inp = await read_input(form)
    services.catalog.resolve(inp.model)
    path, body, multipart = inp.api_request()
    started = time.perf_counter()
    reply = await call_api(request, "POST", path, key=key, json=body, form=multipart)
    elapsed_ms = (time.perf_counter() - started) * 1000
    result = error = None
    if reply.ok:
        answer = reply.json()
        answer["latency_ms"] = round(elapsed_ms, 1)
        for item in answer.get("data") or []:
            item.pop("b64_json", None)
        now = utcnow()
        fields = inp.api_fields() | {"response_format": "url"}
        row = WebGenerationRow(
            id="gen_" + secrets.token_hex(10),
            owner=owner,
            created_at=now,
            expires_at=now + timedelta(seconds=services.settings.url_ttl_s),
            model=(answer.get("metadata") or {}).get("model") or inp.model,
            operation=inp.operation,
            prompt=inp.prompt,
            request_json=json.dumps(
                {
                    "fields": fields,
                    "files": [f.filename for f in inp.images],
                    "mask": inp.mask.filename if inp.mask else None,
                }
            ),
            result_json=json.dumps(answer),
        )
        await asyncio.to_thread(store.add_generation, services.db, row)
        result = generation_view(request, row, {})
    else:
        error = reply.error_message()
    ctx = await context(
        request, inp, key=key, owner=owner, result=result, error=error, with_estimates=not wants_json(request)
    )
    if wants_json(request):
        return _fragments(request, ctx, {"pg-result": "_pg_result", "pg-history": "_pg_history"})
    return services.pages.render(request, "playground", ctx)  # the result, or the API's message in place


async def estimate(request: Request) -> Response:
    """``POST /playground/estimate``: the estimates fragment for the form as it stands (the script calls it as
    fields change; without JavaScript the page shows the estimate for what it was rendered with)."""
    form = await _form(request)
    key, _owner = await _signed_in(request)
    inp = await read_input(form)
    try:
        request.app.state.services.catalog.resolve(inp.model)
        est = await estimates(request, key, inp) if inp.prompt.strip() else None
    except GatewayError as exc:
        est = {"rows": [], "ok": False, "error": str(exc), "operation": inp.operation}
    return _fragments(request, {"estimates": est}, {"pg-estimates": "_pg_estimates"})


async def publish(request: Request) -> Response:
    """``POST /playground/publish``: copy one of this browser's images into the gallery."""
    from imagegate.api.gallery import publish_from_generation

    services = request.app.state.services
    form = await _form(request)
    _key, owner = await _signed_in(request)
    generation_id = str(form.get("generation_id") or "")
    try:
        index = int(str(form.get("index") or "0"))
    except ValueError:
        index = 0
    await publish_from_generation(services, generation_id, owner, index, admin=False)
    return await _back(request, owner)


async def unpublish(request: Request) -> Response:
    """``POST /playground/unpublish``: the publisher takes an entry out of the gallery."""
    services = request.app.state.services
    form = await _form(request)
    _key, owner = await _signed_in(request)
    entry_id = str(form.get("entry_id") or "")
    row = await asyncio.to_thread(store.get_entry, services.db, entry_id)
    if row is None or row.owner != owner:
        raise GatewayError("No such gallery entry of yours.", status=404, code="NOT_FOUND")
    await asyncio.to_thread(store.delete_entry, services.db, entry_id, utcnow())
    return await _back(request, owner, str(form.get("next") or ""))


async def _back(request: Request, owner: str, next_url: str = "") -> Response:
    if wants_json(request):
        ctx = {
            "history": await history(request, owner),
            "csrf": csrf_token(request),
            "csrf_field": CSRF_FIELD,
            "url_ttl_s": request.app.state.services.settings.url_ttl_s,
        }
        return _fragments(request, ctx, {"pg-history": "_pg_history"})
    target = next_url if next_url.startswith("/") and not next_url.startswith("//") else "/playground#history"
    return RedirectResponse(target, status_code=303)


async def enter_key(request: Request) -> Response:
    """``POST /playground/key``: check the key once and keep it in the session cookie (never in the page)."""
    services = request.app.state.services
    form = await _form(request)
    key = str(form.get("api_key") or "").strip()
    model = str(form.get("model") or "")
    try:
        if not key:
            raise AuthenticationFailed("Enter an API key.")
        await sign_in(request, key)
    except AuthenticationFailed as exc:
        inp = PlaygroundInput(model=_model_or_default(services, model)[0].id)
        ctx = await context(request, inp, key=None, owner=None, key_error=str(exc))
        return services.pages.render(request, "playground", ctx)  # the form again, the message in place
    return RedirectResponse("/playground" + (f"?model={quote(model)}" if model else ""), status_code=303)


async def leave(request: Request) -> Response:
    await _form(request)
    sign_out(request)
    return RedirectResponse("/playground", status_code=303)


def routes() -> list[Route]:
    return sessioned(
        [
            Route("/playground", playground_page, methods=["GET", "HEAD"]),
            Route("/playground.md", playground_page, methods=["GET", "HEAD"]),
            Route("/playground", run, methods=["POST"]),
            Route("/playground/estimate", estimate, methods=["POST"]),
            Route("/playground/publish", publish, methods=["POST"]),
            Route("/playground/unpublish", unpublish, methods=["POST"]),
            Route("/playground/key", enter_key, methods=["POST"]),
            Route("/playground/signout", leave, methods=["POST"]),
        ]
    )
