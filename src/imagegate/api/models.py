"""``GET models`` and ``GET models/{id}`` in the OpenAI shape (ids may be aliases or ``provider/model``)."""

from __future__ import annotations

import calendar
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from imagegate.catalog.schema import ModelRecord, Offer
from imagegate.core.types import ImageRequest, RenderSpec
from imagegate.pricing import estimate

_ONE_1K = RenderSpec(aspect_ratio=None, resolution=None, width=1024, height=1024)


def _offer_from(model: ModelRecord, offer: Offer) -> int | None:
    """The cheapest published price of one 1K image from ``offer`` in micros (None: no published price)."""
    if offer.price_unknown:
        return None
    return min(
        estimate(ImageRequest(operation="generate", model=model.id, prompt="", quality=q), offer, _ONE_1K).total_micros
        for q in (None, "low")
    )


def price_from(model: ModelRecord) -> dict[str, Any] | None:
    """``{"usd", "micros", "provider", "per": "image"}`` of the cheapest offer with a published price (local offers,
    priced by this gateway's config, are left out), or None when none has one."""
    published = [o for o in model.offers if o.pricing.source != "config"]
    priced = [(m, o) for o in published if (m := _offer_from(model, o)) is not None]
    if not priced:
        return None
    micros, offer = min(priced, key=lambda p: p[0])
    return {"usd": micros / 1_000_000, "micros": micros, "provider": offer.provider, "per": "image (1K)"}


def model_object(model: ModelRecord) -> dict[str, Any]:
    created = calendar.timegm(model.released.timetuple()) if model.released else 0
    return {
        "id": model.id,
        "object": "model",
        "created": created,
        "owned_by": model.creator.lower(),
        "name": model.name,
        "aliases": list(model.aliases),
        "status": model.status,
        "providers": [o.provider for o in model.offers],
        "tasks": list(model.tasks),
        "price_from": price_from(model),
    }


async def list_models(request: Request) -> Response:
    catalog = request.app.state.services.catalog
    body = {"object": "list", "data": [model_object(m) for m in catalog.models()]}
    return Response(orjson.dumps(body), media_type="application/json")


async def retrieve_model(request: Request) -> Response:
    catalog = request.app.state.services.catalog
    model, _forced = catalog.resolve(request.path_params["model_id"])
    body = model_object(model)
    if request.query_params.get("schema", "").lower() in ("true", "1"):  # the request schema per mode (issue 10)
        from imagegate.web.params import json_schema

        limits = request.app.state.services.limits
        body["schema"] = json_schema(model, limits.max_prompt_chars, limits.max_n)
    return Response(orjson.dumps(body), media_type="application/json")


async def model_providers(request: Request) -> Response:
    """``GET models/{id}/providers``: each offer's prices and measured performance (last 30 days by default)."""
    import asyncio

    from imagegate.core.errors import InvalidRequest
    from imagegate.telemetry.performance import model_providers as build

    services = request.app.state.services
    model, _forced = services.catalog.resolve(request.path_params["model_id"])
    days_param = request.query_params.get("days")
    try:
        days = int(days_param) if days_param else services.settings.stats_window_days
    except ValueError:
        raise InvalidRequest("'days' must be an integer.", param="days") from None
    if not 1 <= days <= 3650:
        raise InvalidRequest("'days' must be between 1 and 3650.", param="days")
    await services.recorder.flush()
    body = await asyncio.to_thread(build, services.db, model, window_days=days, active=set(services.providers))
    return Response(orjson.dumps(body), media_type="application/json")
