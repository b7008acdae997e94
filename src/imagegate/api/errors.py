"""Render every failure in the OpenAI error shape; nothing escapes as a bare 500 page."""

from __future__ import annotations

import logging

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from imagegate.core.errors import GatewayError, redact

log = logging.getLogger("imagegate.api")

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


def error_response(exc: GatewayError, request_id: str | None = None) -> Response:
    headers = dict(exc.headers)
    if request_id:
        headers["X-Imagegate-Request-Id"] = request_id
    return Response(orjson.dumps(exc.body()), status_code=exc.status, media_type="application/json", headers=headers)


async def gateway_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc, getattr(request.state, "request_id", None))


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "INVALID_REQUEST")
    err = GatewayError(str(exc.detail), status=exc.status_code, code=code)
    err.type = "invalid_request_error"
    return error_response(err)


async def unhandled_error_handler(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s: %s", request.method, request.url.path, redact(repr(exc)))
    err = GatewayError("The gateway hit an internal error; it has been logged.", status=500, code="INTERNAL_ERROR")
    return error_response(err, getattr(request.state, "request_id", None))
