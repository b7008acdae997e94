"""The ASGI app factory: routes, auth, request ids, error rendering. Settings in, app out."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate.api import files, images, models
from imagegate.api.errors import gateway_error_handler, http_error_handler, unhandled_error_handler
from imagegate.api.timeouts import BodyTimeout
from imagegate.core.errors import GatewayError
from imagegate.settings import Settings

Handler = Callable[[Request], Awaitable[Response]]


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def api_endpoint(handler: Handler) -> Handler:
    """Give every API call a request id and check its key before the handler runs."""

    async def endpoint(request: Request) -> Response:
        request.state.request_id = new_request_id()
        request.state.key_id = await request.app.state.services.auth.authenticate(request.headers.get("authorization"))
        return await handler(request)

    endpoint.__name__ = handler.__name__
    return endpoint


async def metrics(request: Request) -> Response:
    """Prometheus text; behind the API keys when keys are configured, unless ``metrics_public``."""
    from imagegate.telemetry.metrics import CONTENT_TYPE

    services = request.app.state.services
    if not services.settings.metrics_public:
        await services.auth.authenticate(request.headers.get("authorization"))
    return Response(services.metrics.render(), media_type=CONTENT_TYPE)


async def openapi_json(request: Request) -> Response:
    from imagegate.api.openapi import document

    return Response(orjson.dumps(document()), media_type="application/json")


async def health(request: Request) -> Response:
    services = getattr(request.app.state, "services", None)
    if services is None:
        return Response(b'{"status":"starting"}', status_code=503, media_type="application/json")
    body = {"status": "ok", "providers": sorted(services.providers)}
    return Response(orjson.dumps(body), media_type="application/json")


def _api_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/images/generations", api_endpoint(images.generations), methods=["POST"]),
        Route(f"{prefix}/images/edits", api_endpoint(images.edits), methods=["POST"]),
        Route(f"{prefix}/models", api_endpoint(models.list_models), methods=["GET"]),
        Route(f"{prefix}/models/{{model_id:path}}/providers", api_endpoint(models.model_providers), methods=["GET"]),
        Route(f"{prefix}/models/{{model_id:path}}", api_endpoint(models.retrieve_model), methods=["GET"]),
    ]


def _print_banner(settings: Settings, services) -> None:  # type: ignore[no-untyped-def]
    auth = (
        "API keys required (Authorization: Bearer ...)"
        if services.auth.enabled
        else ("no API keys configured: open access, bound to loopback only")
    )
    lines = [
        f"imagegate listening on http://{settings.host}:{settings.port} (OpenAI base URL: /v1 or /openai/v1)",
        f"  data dir: {settings.data_dir}  database: {settings.db_url.split('://', 1)[0]}",
        f"  auth: {auth}",
        "providers:",
        *services.banner,
    ]
    print("\n".join(lines), flush=True)


def create_app(  # type: ignore[no-untyped-def]
    settings: Settings, *, services_factory=None, tune_runtime: bool = False
) -> Starlette:
    """Build the app. Services (database, providers, router) start in the lifespan. ``tune_runtime``: a served
    worker tunes its allocator and garbage collector once started (``imagegate.runtime``)."""
    from imagegate.services import build_services

    factory = services_factory or build_services

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await factory(settings)
        await services.start()
        app.state.services = services
        _print_banner(settings, services)
        if tune_runtime and settings.runtime_tuning:
            from imagegate.runtime import tune_process

            tune_process()
        try:
            yield
        finally:
            await services.aclose()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        Route("/files/{token}", files.serve_file, methods=["GET"]),
        *_api_routes("/v1"),
        *_api_routes("/openai/v1"),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=[Middleware(BodyTimeout, timeout_s=settings.body_timeout_s)],
        exception_handlers={
            GatewayError: gateway_error_handler,
            HTTPException: http_error_handler,
            Exception: unhandled_error_handler,
        },
    )
    return app
