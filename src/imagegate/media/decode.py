"""Decode a request's uploaded images within bounds: pixels per request and decodes at once.

One huge edit request must not take the process's memory or its CPU from everyone else: the pixels every input
declares in its header are summed (no pixel data is decoded for that) and a request over the budget is refused before
any image is decoded; the decodes themselves run in threads, at most ``max_concurrent`` of them per process, so
other requests (most of which decode nothing) keep a free event loop and free cores.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import InputImage
from imagegate.media.formats import PIL_FORMATS, sniff_format
from imagegate.media.inspect import inspect_image


@dataclass(slots=True, frozen=True)
class Upload:
    """One uploaded file to decode, with the form field it came in."""

    data: bytes
    filename: str | None
    field: str


def declared_pixels(data: bytes) -> int:
    """Width x height from the image's header (lazy: nothing is decoded); 0 when unreadable, which the full
    inspection then reports properly."""
    fmt = sniff_format(data)
    if fmt is None or fmt not in PIL_FORMATS:
        return 0
    try:
        with Image.open(io.BytesIO(data), formats=[PIL_FORMATS[fmt]]) as img:
            width, height = img.size
    except Exception:  # noqa: BLE001 - untrusted input: inspect_image names the problem
        return 0
    return max(0, width) * max(0, height)


class ImageDecoder:
    """Validate and decode uploads with a per-request pixel budget and a per-process concurrency bound."""

    def __init__(
        self,
        *,
        max_image_pixels: int = 64_000_000,
        max_request_pixels: int = 128_000_000,
        max_concurrent: int = 2,
        inspect: Callable[..., InputImage] = inspect_image,
    ) -> None:
        self.max_image_pixels = max_image_pixels
        self.max_request_pixels = max_request_pixels
        self.max_concurrent = max_concurrent
        self._slots = asyncio.Semaphore(max_concurrent)
        self._inspect = inspect

    async def decode_all(self, uploads: Sequence[Upload]) -> list[InputImage]:
        """Every upload inspected and decoded, in order; ``InvalidRequest`` (400) before decoding anything when the
        request's declared pixels pass the budget."""
        for upload in uploads:
            if not upload.data:
                raise InvalidRequest(f"The uploaded '{upload.field}' file is empty.", param=upload.field)
        total = sum(declared_pixels(u.data) for u in uploads)
        if total > self.max_request_pixels:
            raise InvalidRequest(
                f"The uploaded images hold {total:,} pixels in all; the limit per request is "
                f"{self.max_request_pixels:,} (IMAGEGATE_MAX_REQUEST_PIXELS).",
                param=uploads[0].field,
            )
        return list(await asyncio.gather(*(self._decode(u) for u in uploads)))

    async def _decode(self, upload: Upload) -> InputImage:
        async with self._slots:
            return await asyncio.to_thread(
                self._inspect,
                upload.data,
                max_pixels=self.max_image_pixels,
                filename=upload.filename,
                field=upload.field,
            )
