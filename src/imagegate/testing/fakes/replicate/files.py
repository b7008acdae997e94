"""The files API (``/v1/files``), input image resolution, and the output images (served like ``replicate.delivery``,
without auth)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import io

import orjson
from aiohttp import BodyPartReader, web
from PIL import Image

from imagegate.testing.fakes.replicate.state import (
    STATE,
    ReplicateFakeState,
    base_url,
    json_response,
    new_id,
    not_found,
    problem,
)


def resolve_image(url: str, state: ReplicateFakeState, base: str) -> tuple[str, bytes | None]:
    """Return (kind, bytes) of one ``image_input`` item; bytes None when it cannot be read."""
    if url.startswith("data:"):
        _, _, payload = url.partition(",")
        try:
            return "data", base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            return "data", None
    prefix = f"{base}/v1/files/"
    if url.startswith(prefix):
        entry = state.files.get(url[len(prefix) :].split("/")[0])
        return "file", entry[0] if entry else None
    return "url", b""  # a foreign URL: accepted, not fetched (no network here)


def image_size(data: bytes) -> tuple[int, int] | None:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - any undecodable input is simply "not an image"
        return None


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def upload_file(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not request.content_type.startswith("multipart/"):
        return problem(400, "Bad request", "Expected a multipart/form-data body with a 'content' part")
    data, name, ctype, metadata = None, "file", "application/octet-stream", {}
    async for part in await request.multipart():
        assert isinstance(part, BodyPartReader)  # a flat form: no nested multiparts
        if part.name == "content":
            data = await part.read()
            name = part.filename or name
            ctype = part.headers.get("Content-Type", ctype)
        elif part.name == "metadata":
            metadata = orjson.loads(await part.read())
    if data is None:
        return problem(422, "Missing content", "The 'content' part is required")
    fid, created = new_id(), dt.datetime.now(dt.UTC)
    md5 = hashlib.md5(data).hexdigest()  # noqa: S324 - a checksum, not security
    obj = {
        "id": fid,
        "name": name,
        "content_type": ctype,
        "size": len(data),
        "etag": md5,
        "checksums": {"sha256": hashlib.sha256(data).hexdigest(), "md5": md5},
        "metadata": metadata,
        "created_at": _iso(created),
        "expires_at": _iso(created + dt.timedelta(days=1)),
        "urls": {"get": f"{base_url(request)}/v1/files/{fid}"},
    }
    state.files[fid] = (data, obj)
    return json_response(obj, status=201)


async def file_object(request: web.Request) -> web.Response:
    """``GET`` the File object, ``GET .../download`` its bytes, ``DELETE`` it."""
    state = request.app[STATE]
    fid = request.match_info["id"]
    entry = state.files.get(fid)
    if entry is None:
        return not_found()
    if request.method == "DELETE":
        del state.files[fid]
        return web.Response(status=204)
    if request.path.endswith("/download"):
        return web.Response(body=entry[0], content_type=entry[1]["content_type"])
    return json_response(entry[1])


async def list_files(request: web.Request) -> web.Response:
    objs = [obj for _, obj in request.app[STATE].files.values()]
    return json_response({"next": None, "previous": None, "results": objs})


async def output_file(request: web.Request) -> web.Response:
    entry = request.app[STATE].outputs.get(request.match_info["name"])
    if entry is None:
        return web.Response(status=404, text="Not Found")
    return web.Response(body=entry[0], content_type=entry[1])
