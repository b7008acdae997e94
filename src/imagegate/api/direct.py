"""The API's fixed paths, dispatched without Starlette's middleware stack and route scan.

Starlette sends every request through its server-error middleware, ``BodyTimeout``, its exception middleware, a
scan of the routes in order and two more exception-handling wrappers (one per layer that may render an error), and
every message of the answer back through three ``send`` wrappers: about 5 % of the gateway's CPU per 2 KB
``POST /v1/images/generations``, measured side by side (``docs/benchmarks.md``, issue 18). ``GatewayApp`` looks
the method and path up in a dict instead and does the same work itself: the body read under ``timed_body``, the
endpoint, the app's own exception handlers (the most specific class first, as Starlette picks them), and for an
unexpected error the 500 in the error shape, then the exception raised on to the server, as Starlette's
server-error middleware does. Routes with path parameters, other methods and anything under a ``root_path`` go
through Starlette as before (a wrong method still gets its 405 there). Middleware added to the app does not wrap
the direct paths: what they need is done here, explicitly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from imagegate.api.timeouts import BodyTimeout, timed_body

Endpoint = Callable[[Request], Awaitable[Response]]
ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]


class GatewayApp(Starlette):
    """Starlette, with a direct path for the fixed paths of ``direct_routes`` (which are also among ``routes``).
    ``body_timeout_s`` limits the body reads on both paths: ``BodyTimeout`` is the stack's first middleware."""

    def __init__(
        self,
        *,
        body_timeout_s: float,
        direct_routes: Sequence[Route] = (),
        middleware: Sequence[Middleware] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(middleware=[Middleware(BodyTimeout, timeout_s=body_timeout_s), *middleware], **kwargs)
        self.body_timeout_s = body_timeout_s
        self.direct: dict[tuple[str, str], Endpoint] = {}
        for route in direct_routes:
            if route.param_convertors or route.methods is None:
                continue
            for method in route.methods:
                self.direct[(method, route.path)] = route.endpoint  # type: ignore[assignment]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.direct.get((scope["method"], scope["path"]))
            if endpoint is not None:
                scope["app"] = self
                await self._serve(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, scope: Scope, receive: Receive, send: Send) -> None:
        receive = timed_body(scope, receive, self.body_timeout_s)
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler, unexpected = self._handler_for(exc)
            await (await handler(request, exc))(scope, receive, send)
            if unexpected:  # the server logs it too, as behind Starlette's server-error middleware
                raise
            return
        await response(scope, receive, send)  # a failure here comes after the answer started: the server's

    def _handler_for(self, exc: Exception) -> tuple[ExceptionHandler, bool]:
        """The app's handler for ``exc`` (its class's, else the nearest base class's) and whether it is the
        catch-all ``Exception`` one."""
        handlers = self.exception_handlers
        for cls in type(exc).__mro__:
            handler = handlers.get(cls)
            if handler is not None:
                return handler, cls is Exception  # type: ignore[return-value]
        raise exc
