"""The offline ``placeholder`` provider: deterministic, obviously fake images, no network, no credentials.

Same prompt, seed, size, format and input image give byte-identical output. Images are drawn on a palette ("P")
canvas, which is a quarter of the memory of RGB and encodes as png or gif in milliseconds even at 4K; lossy formats
convert to RGB once and use their encoders' fastest settings. Nothing is cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
import textwrap

from PIL import Image, ImageDraw, ImageFont

from imagegate.core.types import GeneratedImage, ImageResult, InputImage, Usage
from imagegate.media.convert import save_options
from imagegate.media.formats import MIME_TYPES, PIL_FORMATS
from imagegate.providers.base import ProviderCall

MAX_PIXELS = 24_000_000  # larger asks are drawn scaled down (same aspect ratio) to keep the placeholder cheap
MAX_PROMPT_LINES = 6
# palette indexes: background, ink, shade, then a ramp of greys for edit thumbnails
_BG, _FG, _SHADE, _GREY0 = 0, 1, 2, 3
_GREYS = 16


class PlaceholderProvider:
    name = "placeholder"

    async def generate(self, call: ProviderCall) -> ImageResult:
        request = call.request
        fmt = self._format(request.output_format, call.offer.capabilities.output_formats)
        width, height = fit_pixels(call.spec.width, call.spec.height)
        thumb = request.images[0] if request.images else None
        label = f"{call.offer.provider_model_id}  {call.spec.width}x{call.spec.height}"
        renders = [
            asyncio.to_thread(
                render_placeholder,
                request.prompt,
                request.seed,
                i,
                width,
                height,
                fmt,
                label=label,
                thumbnail=thumb,
                compression=request.output_compression,
            )
            for i in range(call.n)
        ]
        images = [
            GeneratedImage(mime_type=MIME_TYPES[fmt], data=data, width=width, height=height)
            for data in await asyncio.gather(*renders)
        ]
        usage = Usage(output_images=call.n, input_images=len(request.images))
        return ImageResult(images=images, usage=usage, text=None)

    async def aclose(self) -> None:
        return None

    @staticmethod
    def _format(asked: str | None, offered: tuple[str, ...]) -> str:
        """The asked format when the offer lists it (and Pillow can write it), else png."""
        if asked:
            fmt = "jpeg" if asked.lower() == "jpg" else asked.lower()
            Image.init()
            if fmt in offered and fmt in PIL_FORMATS and PIL_FORMATS[fmt] in Image.SAVE:
                return fmt
        return "png"


def fit_pixels(width: int, height: int, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)``, scaled down with its aspect ratio kept when it exceeds ``max_pixels``."""
    width, height = max(1, width), max(1, height)
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * scale)), max(1, int(height * scale))


def palette_for(prompt: str, seed: int | None, index: int) -> list[int]:
    """Background from a hash of prompt + seed (+ index for the 2nd.. image of a call), and contrasting inks."""
    key = f"{seed if seed is not None else 0}\x00{prompt}" + (f"\x00{index}" if index else "")
    r, g, b = hashlib.sha256(key.encode("utf-8")).digest()[:3]
    luminance = 0.299 * r + 0.587 * g + 0.114 * b
    fg = (20, 20, 20) if luminance > 140 else (245, 245, 245)
    shade = tuple((c + f) // 2 for c, f in zip((r, g, b), fg, strict=True))
    greys = [v for i in range(_GREYS) for v in (i * 17,) * 3]
    return [r, g, b, *fg, *shade, *greys]


def render_placeholder(
    prompt: str,
    seed: int | None,
    index: int,
    width: int,
    height: int,
    fmt: str,
    *,
    label: str = "",
    thumbnail: InputImage | None = None,
    compression: int | None = None,
) -> bytes:
    """One placeholder image, encoded as ``fmt``. Blocking: run it in a thread."""
    img = Image.new("P", (width, height), _BG)
    img.putpalette(palette_for(prompt, seed, index))
    draw = ImageDraw.Draw(img)
    short = min(width, height)
    margin = max(2, short // 24)
    border = max(1, short // 160)
    draw.rectangle((margin, margin, width - 1 - margin, height - 1 - margin), outline=_SHADE, width=border)
    x = y = margin * 2
    usable = max(1, width - 4 * margin)
    if thumbnail is not None:
        y = _paste_thumbnail(img, thumbnail, x, y, max(1, width // 3), max(1, height // 3)) + margin
    title_size = max(8, min(usable // 7, height // 8))
    title = "PLACEHOLDER" + (f" #{index + 1}" if index else "")
    draw.text((x, y), title, fill=_FG, font=ImageFont.load_default(size=title_size))
    y += int(title_size * 1.3)
    text_size = max(8, title_size // 3)
    font = ImageFont.load_default(size=text_size)
    per_line = max(8, int(usable / (text_size * 0.55)))
    lines = textwrap.wrap(" ".join(prompt.split()), per_line, max_lines=MAX_PROMPT_LINES, placeholder=" …")
    for line in lines:
        if y + text_size > height - 2 * margin:
            break
        draw.text((x, y), line, fill=_FG, font=font)
        y += int(text_size * 1.25)
    if label and height - 2 * margin - text_size > y:
        small = ImageFont.load_default(size=max(8, text_size * 2 // 3))
        draw.text((x, height - 2 * margin - text_size), label, fill=_SHADE, font=small)
    return _encode(img, fmt, compression)


def _paste_thumbnail(canvas: Image.Image, image: InputImage, x: int, y: int, max_w: int, max_h: int) -> int:
    """Draw ``image`` scaled into ``max_w x max_h`` at ``(x, y)`` (in 16 greys: the canvas is a palette);
    returns the bottom edge. An unreadable input is drawn as a grey box."""
    try:
        with Image.open(io.BytesIO(image.data)) as src:
            src.draft("L", (max_w, max_h))  # JPEG: decode at reduced scale, much cheaper
            thumb = src.convert("L")
            thumb.thumbnail((max_w, max_h))
    except Exception:  # noqa: BLE001 - inputs were validated; never fail a placeholder over a thumbnail
        ImageDraw.Draw(canvas).rectangle((x, y, x + max_w, y + max_h), fill=_GREY0 + _GREYS // 2)
        return y + max_h
    levels = thumb.point(lambda v: _GREY0 + v * _GREYS // 256)
    canvas.paste(levels, (x, y))
    return y + thumb.height


def _encode(img: Image.Image, fmt: str, compression: int | None) -> bytes:
    """Encode like a provider that honours ``output_compression``; lossy encoders at their fastest settings."""
    buf = io.BytesIO()
    options = save_options(fmt, compression)
    if fmt in ("png", "gif"):
        img.save(buf, format=PIL_FORMATS[fmt], **options)
        return buf.getvalue()
    rgb = img.convert("RGB")
    if fmt == "webp":
        options["method"] = 0
    elif fmt == "avif":
        options["speed"] = 10
    rgb.save(buf, format=PIL_FORMATS[fmt], **options)
    return buf.getvalue()
