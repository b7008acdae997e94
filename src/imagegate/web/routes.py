"""The web catalog's routes. Every page is registered twice: at its path and at the path + ``.md``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from imagegate.core.errors import AuthenticationFailed

PageHandler = Callable[[Request], Awaitable[Response]]


def page_endpoint(handler: PageHandler) -> PageHandler:
    """Pages are public for reading unless ``pages_public`` is false; then they need a key like the API."""

    async def endpoint(request: Request) -> Response:
        services = request.app.state.services
        if not services.settings.pages_public and services.auth.enabled:
            key_id = await services.auth.authenticate(request.headers.get("authorization"))
            if key_id is None:
                raise AuthenticationFailed("This gateway's pages need an API key.")
            request.state.key_id = key_id
        return await handler(request)

    endpoint.__name__ = handler.__name__
    return endpoint


def page(path: str, handler: PageHandler, *, md_path: str | None = None) -> list[Route]:
    """The HTML route and its markdown twin (``/`` -> ``/index.md``). The twin is registered first, so that
    ``/models/{creator}/{model}.md`` is not taken by ``/models/{creator}/{model}`` with ``model="x.md"``."""
    twin = md_path or ("/index.md" if path == "/" else path + ".md")
    wrapped = page_endpoint(handler)
    return [Route(twin, wrapped, methods=["GET", "HEAD"]), Route(path, wrapped, methods=["GET", "HEAD"])]


def web_routes() -> list[BaseRoute]:
    from imagegate.web import pages

    return [
        Mount("/static", app=StaticFiles(packages=[("imagegate", "web/static")]), name="static"),
        *pages.routes(),
    ]
