"""Output normalisation: give the client the format and encoding it asked for, doing as little work as possible.

Fast paths (no Pillow at all):
- the image is already in the asked format (or none was asked) and the client wants base64 that the provider
  already gave: the very same ``GeneratedImage`` (and base64 string) is returned;
- the client wants a URL and the provider gave base64: base64 is decoded, nothing more;
- the client wants base64 and the provider gave bytes: base64 is encoded, nothing more.

Only a format change decodes and re-encodes, in a worker thread (``asyncio.to_thread``).

``output_compression`` (0-100) follows OpenAI, where 100 (its default) is the best quality: it is the encoder
quality of jpeg, webp and avif (jpeg quality is clamped to 1..95 where libjpeg stops gaining). It only applies
when the gateway converts; an image already in the asked format is passed through as the provider encoded it
(adapters forward the compression to providers that take one). Lossless png and gif ignore it.

Alpha: jpeg cannot carry it, so transparent pixels are flattened on white (also when ``background`` is
"transparent": jpeg cannot honour that). ``background="opaque"`` flattens on white whenever we convert.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
from dataclasses import replace

from PIL import Image

from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.slices import contiguous
from imagegate.core.types import GeneratedImage
from imagegate.media.formats import MIME_TYPES, PIL_FORMATS, format_of_mime, sniff_b64, sniff_format

DEFAULT_QUALITY = 90  # when no output_compression is given
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


class BadImageOutput(GatewayError):
    """A provider's image bytes we cannot read or convert (502: the gateway got a bad answer upstream)."""

    status = 502
    code = "BAD_PROVIDER_OUTPUT"
    type = "api_error"


async def normalise(
    images: list[GeneratedImage],
    *,
    output_format: str | None,
    compression: int | None,
    want_b64: bool,
    background: str | None = None,
) -> list[GeneratedImage]:
    """Each image in ``output_format`` (None: as the provider gave it), with ``b64`` set when ``want_b64`` and
    ``data`` set otherwise. Order is preserved."""
    fmt = _normal_format(output_format)
    out: list[GeneratedImage | None] = [None] * len(images)
    work: list[tuple[int, bytes]] = []
    for i, img in enumerate(images):
        actual = _actual_format(img)
        if fmt is None or fmt == actual:
            out[i] = _pass_through(img, actual, want_b64)
        else:
            work.append((i, _raw_bytes(img)))
    if work and fmt is not None:
        converted = await asyncio.gather(
            *(asyncio.to_thread(convert_bytes, raw, fmt, compression, background) for _, raw in work)
        )
        for (i, _), (data, width, height) in zip(work, converted, strict=True):
            b64 = base64.b64encode(data).decode("ascii") if want_b64 else None
            out[i] = GeneratedImage(mime_type=MIME_TYPES[fmt], data=data, b64=b64, width=width, height=height)
    return [img for img in out if img is not None]


def convert_bytes(
    data: bytes, fmt: str, compression: int | None = None, background: str | None = None
) -> tuple[bytes, int, int]:
    """Re-encode ``data`` as ``fmt``; returns ``(bytes, width, height)``. Blocking: call it in a thread."""
    try:
        with Image.open(io.BytesIO(data)) as src:
            src.load()
            img = _prepare_mode(src, fmt, background)
    except Exception as exc:  # noqa: BLE001 - any decoder failure means the provider sent unusable bytes
        raise BadImageOutput(f"The provider returned an image that cannot be decoded: {exc}") from None
    buf = io.BytesIO()
    img.save(buf, format=PIL_FORMATS[fmt], **save_options(fmt, compression))
    return buf.getvalue(), img.width, img.height


def _prepare_mode(img: Image.Image, fmt: str, background: str | None) -> Image.Image:
    """The image in a mode ``fmt`` can encode, alpha flattened on white where it must (or was asked to) go."""
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    has_alpha = img.mode in _ALPHA_MODES
    flatten = has_alpha and (fmt == "jpeg" or background == "opaque")
    if flatten:
        rgba = img.convert("RGBA")
        base = Image.new("RGB", rgba.size, (255, 255, 255))
        base.paste(rgba, mask=rgba.getchannel("A"))
        return base
    if fmt == "jpeg":
        return img if img.mode in ("RGB", "L", "CMYK") else img.convert("RGB")
    if fmt == "gif":
        return img if img.mode in ("P", "L", "RGB", "RGBA") else img.convert("RGBA" if has_alpha else "RGB")
    if img.mode in ("RGB", "RGBA", "L", "LA") or (fmt == "png" and img.mode in ("P", "I", "I;16", "1")):
        return img
    return img.convert("RGBA" if has_alpha else "RGB")


def save_options(fmt: str, compression: int | None) -> dict[str, object]:
    """Pillow ``save`` keywords for ``fmt`` at ``output_compression`` (see the module docstring)."""
    quality = DEFAULT_QUALITY if compression is None else max(0, min(100, compression))
    if fmt == "jpeg":
        return {"quality": max(1, min(95, quality)), "optimize": False}
    if fmt == "webp":
        return {"quality": quality, "method": 4}
    if fmt == "avif":
        return {"quality": quality}
    if fmt == "png":
        return {"compress_level": 6}
    return {}


# --------------------------------------------------------------------------- fast paths


def _pass_through(img: GeneratedImage, actual: str | None, want_b64: bool) -> GeneratedImage:
    mime = MIME_TYPES[actual] if actual else img.mime_type
    if want_b64:
        if img.b64 is not None:
            return img if mime == img.mime_type else replace(img, mime_type=mime)
        assert img.data is not None
        return replace(img, mime_type=mime, b64=base64.b64encode(img.data).decode("ascii"))
    if img.data is not None:
        return img if mime == img.mime_type else replace(img, mime_type=mime)
    return replace(img, mime_type=mime, data=_raw_bytes(img))


def _raw_bytes(img: GeneratedImage) -> bytes:
    if img.data is not None:
        return img.data
    if img.b64 is None:
        raise BadImageOutput("The provider returned an image without any data.")
    try:
        return base64.b64decode(contiguous(img.b64))
    except (binascii.Error, ValueError):
        raise BadImageOutput("The provider returned invalid base64 image data.") from None


def _actual_format(img: GeneratedImage) -> str | None:
    """Sniffed from the bytes (or the first base64 characters); the declared MIME type only as a last resort."""
    if img.data is not None:
        sniffed = sniff_format(img.data)
    elif img.b64 is not None:
        sniffed = sniff_b64(img.b64)
    else:
        sniffed = None
    if sniffed in MIME_TYPES:
        return sniffed
    return format_of_mime(img.mime_type) if sniffed is None else None


def _normal_format(output_format: str | None) -> str | None:
    if output_format is None:
        return None
    fmt = output_format.lower()
    fmt = "jpeg" if fmt == "jpg" else fmt
    if fmt not in MIME_TYPES:
        raise InvalidRequest(
            f"Unsupported output_format '{output_format}'. Supported formats: {', '.join(MIME_TYPES)}.",
            param="output_format",
        )
    return fmt
