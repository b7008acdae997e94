"""Serve stored images at their unguessable, expiring URLs."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from imagegate.core.errors import GatewayError
from imagegate.store.blobs import PresignedUrl

_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif", "image/avif": "avif"}


def extension(mime_type: str) -> str:
    return _EXT.get(mime_type, "bin")


async def serve_file(request: Request) -> Response:
    token = request.path_params["token"].split(".", 1)[0]
    found = await request.app.state.services.blobs.open(token)
    if found is None:
        raise GatewayError("This image URL is unknown or has expired.", status=404, code="NOT_FOUND")
    content, mime = found
    if isinstance(content, PresignedUrl):  # S3 with blob_presign: the client fetches it from the store
        return RedirectResponse(content, status_code=307, headers={"Cache-Control": "no-store"})
    headers = {"Cache-Control": "private, max-age=3600"}
    if isinstance(content, Path):
        return FileResponse(content, media_type=mime, headers=headers)
    return Response(content, media_type=mime, headers=headers)
