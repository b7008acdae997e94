"""Validate uploaded images before they go anywhere: format, size, decompression bombs, corruption.

Order matters: sniff the magic number (no Pillow), read the header with Pillow (lazy: no pixel data), refuse
anything over ``max_pixels``, and only then decode the pixels to catch truncated or corrupt files. Pillow is only
offered the formats we accept, so exotic plugins (EPS, which shells out to Ghostscript, and friends) never run.

Animated GIF / WebP: only the first frame is decoded; the upload is forwarded as it came.
"""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import InputImage
from imagegate.media.formats import FROM_PIL, MIME_TYPES, PIL_FORMATS, sniff_format

ACCEPTED = tuple(MIME_TYPES)  # png, jpeg, webp, gif, avif


def accepted_formats() -> tuple[str, ...]:
    """The accepted formats this Pillow build can read (AVIF needs Pillow >= 11.2 built with libavif)."""
    Image.init()
    return tuple(f for f in ACCEPTED if PIL_FORMATS[f] in Image.OPEN)


def inspect_image(data: bytes, *, max_pixels: int, filename: str | None = None, field: str = "image") -> InputImage:
    """Check ``data`` is a whole, supported, reasonably sized image; return it with its format and size.

    Every failure is an ``InvalidRequest`` (400) with ``param=field``.
    """
    name = f" ({filename})" if filename else ""
    formats = accepted_formats()
    supported = ", ".join(formats)
    if not data:
        raise InvalidRequest(f"The uploaded '{field}' file{name} is empty.", param=field)
    sniffed = sniff_format(data)
    if sniffed is None:
        raise InvalidRequest(
            f"The uploaded '{field}' file{name} is not an image. Supported formats: {supported}.", param=field
        )
    if sniffed not in formats:
        raise InvalidRequest(
            f"Unsupported image format '{sniffed}' for '{field}'{name}. Supported formats: {supported}.", param=field
        )
    try:
        img = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[sniffed]])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (its global limit) tripped while reading the header.
        raise _too_large(field, name, None, max_pixels) from None
    except UnidentifiedImageError:
        raise InvalidRequest(
            f"The uploaded '{field}' file{name} looks like {sniffed} but cannot be read: it is corrupt.", param=field
        ) from None
    except Exception as exc:  # noqa: BLE001 - untrusted input: any parser failure is the client's 400
        raise _corrupt(field, name, sniffed, exc) from None
    with img:
        width, height = img.size
        if width <= 0 or height <= 0:
            raise InvalidRequest(f"The uploaded '{field}' image{name} has no pixels.", param=field)
        if width * height > max_pixels:
            raise _too_large(field, name, (width, height), max_pixels)
        try:
            img.load()  # decode the pixels: catches truncated and corrupt data
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _too_large(field, name, (width, height), max_pixels) from None
        except Exception as exc:  # noqa: BLE001
            raise _corrupt(field, name, sniffed, exc) from None
        fmt = FROM_PIL.get(img.format or "", sniffed)
    return InputImage(data=data, mime_type=MIME_TYPES[fmt], width=width, height=height, filename=filename)


def check_mask(mask: InputImage, image: InputImage) -> None:
    """A mask must have the same pixel size as the (first) image it masks."""
    if (mask.width, mask.height) != (image.width, image.height):
        raise InvalidRequest(
            f"The mask is {mask.width}x{mask.height} but the image is {image.width}x{image.height}: "
            "they must have the same size.",
            param="mask",
        )


def _too_large(field: str, name: str, size: tuple[int, int] | None, max_pixels: int) -> InvalidRequest:
    dims = f" is {size[0]}x{size[1]} pixels and" if size else ""
    return InvalidRequest(
        f"The uploaded '{field}' image{name}{dims} exceeds the limit of {max_pixels:,} pixels "
        "(possible decompression bomb).",
        param=field,
    )


def _corrupt(field: str, name: str, fmt: str, exc: Exception) -> InvalidRequest:
    detail = str(exc).strip().split("\n", 1)[0][:120]
    why = f": {detail}" if detail else ""
    return InvalidRequest(f"The uploaded '{field}' file{name} is a truncated or corrupt {fmt} image{why}.", param=field)
