"""Publishing: copy an image out of the expiring store into blobs that do not expire, with a WebP thumbnail made
once (at publish time) and stored beside it."""

from __future__ import annotations

import asyncio
import io
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from PIL import Image

from imagegate.core.errors import InvalidRequest
from imagegate.store.blobs import valid_token
from imagegate.store.db import utcnow
from imagegate.store.gallery_models import GalleryEntryRow

KEEP_S = 100 * 365 * 24 * 3600  # published images and thumbnails outlive any url_ttl_s
THUMB_PX = 384
THUMB_QUALITY = 78


@dataclass
class Published:
    """What the publisher says about the image (the rest comes from the image itself)."""

    model: str
    prompt: str
    task: str = "text-to-image"
    provider: str | None = None
    executed_model: str | None = None
    size: str | None = None
    cost_micros: int | None = None
    latency_ms: float | None = None
    generation_id: str | None = None


def token_from_url(url: str) -> str:
    """The blob token of one of this gateway's own image URLs (``.../files/<token>.<ext>``): nothing is fetched."""
    path = urlsplit(url).path
    if not path.startswith("/files/"):
        raise InvalidRequest("'image_url' must be an image URL of this gateway (/files/...).", param="image_url")
    token = path[len("/files/") :].split(".", 1)[0]
    if not valid_token(token):
        raise InvalidRequest("'image_url' is not an image URL of this gateway.", param="image_url")
    return token


async def read_blob(blobs, token: str) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    found = await blobs.read(token)
    if found is None:
        raise InvalidRequest("This image is unknown or has expired: it can no longer be published.", param="image_url")
    return found


def make_thumbnail(data: bytes) -> tuple[bytes, int, int]:
    """A WebP at most ``THUMB_PX`` on its long side, and the original's width and height."""
    with Image.open(io.BytesIO(data)) as opened:
        width, height = opened.size
        img: Image.Image = opened
        if img.mode not in ("RGB", "RGBA"):
            img = img.convert("RGBA" if "transparency" in img.info or img.mode in ("LA", "PA") else "RGB")
        img.thumbnail((THUMB_PX, THUMB_PX))
        out = io.BytesIO()
        img.save(out, format="WEBP", quality=THUMB_QUALITY, method=4)
    return out.getvalue(), width, height


async def publish(services, data: bytes, mime: str, meta: Published, owner: str | None) -> GalleryEntryRow:  # type: ignore[no-untyped-def]
    from imagegate.gallery import store

    try:
        thumb, width, height = await asyncio.to_thread(make_thumbnail, data)
    except Exception:
        raise InvalidRequest("The image could not be read.", param="image_url") from None
    image_token = await services.blobs.put(data, mime, KEEP_S)
    thumb_token = await services.blobs.put(thumb, "image/webp", KEEP_S)
    row = GalleryEntryRow(
        id="gal_" + secrets.token_hex(10),
        created_at=utcnow(),
        source="published",
        owner=owner,
        model=meta.model,
        task=meta.task,
        prompt=meta.prompt,
        provider=meta.provider,
        executed_model=meta.executed_model,
        size=meta.size,
        cost_micros=meta.cost_micros,
        latency_ms=meta.latency_ms,
        width=width,
        height=height,
        image_token=image_token,
        image_mime=mime,
        thumb_token=thumb_token,
        generation_id=meta.generation_id,
    )
    await asyncio.to_thread(store.add_entry, services.db, row)
    return row
