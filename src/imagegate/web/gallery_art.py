"""The curated gallery's images: abstract art drawn from each entry's prompt, shipped as small WebP files.

Nothing is fetched: ``python -m imagegate.web.gallery_art`` redraws every catalog gallery image into
``web/static/gallery`` (the files are committed; the page only links them). The drawing is deterministic per prompt.
"""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

STATIC_DIR = Path(__file__).with_name("static")
SIZE = 384


def draw(prompt: str, size: int = SIZE) -> bytes:
    """A soft gradient with blurred shapes, coloured by a hash of the prompt, as WebP bytes."""
    rng = random.Random(hashlib.sha256(prompt.encode("utf-8")).digest())
    top = tuple(rng.randrange(30, 200) for _ in range(3))
    bottom = tuple(rng.randrange(60, 255) for _ in range(3))
    img = Image.new("RGB", (size, size))
    px = ImageDraw.Draw(img)
    for y in range(size):
        t = y / (size - 1)
        px.line([(0, y), (size, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    shapes = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    sd = ImageDraw.Draw(shapes)
    for _ in range(rng.randrange(5, 9)):
        r = rng.randrange(size // 10, size // 3)
        x, y = rng.randrange(size), rng.randrange(size)
        colour = (*(rng.randrange(256) for _ in range(3)), rng.randrange(90, 190))
        sd.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    img.paste(shapes.filter(ImageFilter.GaussianBlur(size // 40)), (0, 0), shapes.filter(ImageFilter.GaussianBlur(4)))
    horizon = rng.randrange(size // 2, size * 4 // 5)
    px = ImageDraw.Draw(img)
    px.rectangle((0, horizon, size, size), fill=tuple(c // 2 for c in bottom))
    out = io.BytesIO()
    img.save(out, "WEBP", quality=60, method=6)
    return out.getvalue()


def regenerate() -> list[Path]:
    """Draw every gallery entry of the packaged catalog; returns the files written."""
    from imagegate.catalog import load_catalog

    written = []
    for model in load_catalog([]).models():
        for entry in model.gallery:
            path = STATIC_DIR / entry.image
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(draw(entry.prompt))
            written.append(path)
    return written


if __name__ == "__main__":
    for p in regenerate():
        print(p, p.stat().st_size)
