"""Image formats: names, MIME types and magic-number sniffing (no Pillow, no decoding)."""

from __future__ import annotations

import base64
import binascii

from imagegate.core.slices import Slices

MIME_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "gif": "image/gif",
    "avif": "image/avif",
}
# Pillow's format names for the formats we accept ("MPO" is how Pillow reads multi-picture camera JPEGs).
PIL_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP", "gif": "GIF", "avif": "AVIF"}
FROM_PIL = {"PNG": "png", "JPEG": "jpeg", "MPO": "jpeg", "WEBP": "webp", "GIF": "gif", "AVIF": "avif"}

_AVIF_BRANDS = (b"avif", b"avis")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def sniff_format(data: bytes) -> str | None:
    """The format of ``data`` from its first bytes: png, jpeg, webp, gif, avif, or another known name
    (bmp, tiff, heic, pdf, svg) so errors can name it; None when unknown. Never trusts a declared MIME type."""
    head = data[:64]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[4:8] == b"ftyp":
        return _sniff_ftyp(head)
    if head[:2] == b"BM":
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:5] == b"%PDF-":
        return "pdf"
    stripped = head.lstrip()
    if stripped[:4] == b"<svg" or (stripped[:5] == b"<?xml" and b"<svg" in data[:1024]):
        return "svg"
    return None


def sniff_mime(data: bytes) -> str | None:
    """The MIME type of an image format we serve (png, jpeg, webp, gif, avif) from its first bytes, else None."""
    fmt = sniff_format(data)
    return MIME_TYPES.get(fmt) if fmt is not None else None


def _sniff_ftyp(head: bytes) -> str | None:
    """ISO-BMFF: the major brand, then the compatible brands of the ``ftyp`` box."""
    size = int.from_bytes(head[:4], "big")
    major = head[8:12]
    compatible = [head[i : i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
    if major in _AVIF_BRANDS or any(b in _AVIF_BRANDS for b in compatible):
        return "avif"
    if major in _HEIF_BRANDS:
        return "heic"
    return None


def sniff_b64(b64: str | bytes | memoryview | Slices) -> str | None:
    """``sniff_format`` on base64 text, decoding only its first 88 characters (66 bytes); a zero-copy slice of an
    upstream body is read in place, never copied whole."""
    try:
        return sniff_format(base64.b64decode(b64[:88]))
    except (binascii.Error, ValueError):
        return None


def png_size(b64: str | bytes | memoryview | Slices) -> tuple[int, int] | None:
    """Width and height from a base64 PNG's IHDR chunk (decodes 32 characters, not the image); None when ``b64``
    is not a PNG."""
    try:
        head = base64.b64decode(b64[:32])
    except (binascii.Error, ValueError):
        return None
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def format_of_mime(mime_type: str | None) -> str | None:
    """``image/jpeg`` -> ``jpeg`` (also ``image/jpg``); None for anything else."""
    if not mime_type:
        return None
    sub = mime_type.split(";", 1)[0].strip().lower().removeprefix("image/")
    sub = "jpeg" if sub in ("jpg", "pjpeg") else sub
    return sub if sub in MIME_TYPES else None
