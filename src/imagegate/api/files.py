"""Serve stored images at their unguessable, expiring URLs."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from imagegate.core.errors import GatewayError

_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "image/avif": "avif"}


def extension(mime_type: str) -> str:
    return _EXT.get(mime_type, "bin")


async def serve_file(request: Request) -> Response:
    token = request.path_params["token"].split(".", 1)[0]
    found = await request.app.state.services.blobs.open(token)
    if found is None:
        raise GatewayError("This image URL is unknown or has expired.", status=404, code="NOT_FOUND")
    content, mime = found
    headers = {"Cache-Control": "private, max-age=3600"}
    if isinstance(content, Path):
        return FileResponse(content, media_type=mime, headers=headers)
    return Response(content, media_type=mime, headers=headers)
