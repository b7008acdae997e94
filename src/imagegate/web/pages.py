"""The pages themselves: each handler builds a context and renders it (``web.render``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from imagegate.web.routes import page


def renderer(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.services.pages


async def home(request: Request) -> Response:
    services = request.app.state.services
    models = services.catalog.models()
    return renderer(request).render(
        request,
        "home",
        {"models": models, "providers": sorted(services.providers), "auth_enabled": services.auth.enabled},
    )


def routes() -> list[Route]:
    from imagegate.web import gallery_pages, playground

    return [*page("/", home), *playground.routes(), *gallery_pages.routes()]
