"""The pixel size of an output image, for the response's ``size``: what came back, not what was asked.

Adapters usually know it (PNG headers, the provider's answer); otherwise the image's header is read with Pillow
(lazy: no pixel data is decoded), from a prefix of the base64 text when that is all there is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import io

from PIL import Image

from imagegate.core.slices import contiguous
from imagegate.core.types import GeneratedImage

_B64_PREFIX = 64 * 1024  # characters: 48 KiB of image, enough for any PNG/JPEG/WebP/GIF/AVIF header we accept


def _header_size(data: bytes) -> tuple[int, int] | None:
    # an unreadable header: the size is unknown, not an error
    with contextlib.suppress(Exception), Image.open(io.BytesIO(data)) as img:
        return img.size
    return None


def pixel_dimensions(img: GeneratedImage) -> tuple[int, int] | None:
    """``(width, height)`` of ``img``, or None when even its header cannot be read."""
    if img.width and img.height:
        return img.width, img.height
    if img.data is not None:
        return _header_size(img.data)
    if img.b64 is None:
        return None
    head = img.b64[:_B64_PREFIX]  # a str, or a zero-copy slice of the upstream body: only the prefix is copied
    size = _b64_header_size(head)
    if size is None and len(head) < len(img.b64):  # a header longer than the prefix: the whole image, once
        size = _b64_header_size(contiguous(img.b64))
    return size


def _b64_header_size(b64: str | bytes | memoryview) -> tuple[int, int] | None:
    with contextlib.suppress(binascii.Error, ValueError):
        return _header_size(base64.b64decode(b64[: len(b64) - len(b64) % 4]))
    return None


def size_text(img: GeneratedImage) -> str | None:
    """``"WxH"`` for the response, or None when unknown."""
    dims = pixel_dimensions(img)
    return f"{dims[0]}x{dims[1]}" if dims else None
