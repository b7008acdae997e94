"""Draw the arena's input images for the image-editing competitions (src/imagegate/arena/data/inputs/*.png).

Simple flat drawings made with Pillow, quantised to 32 colours so each file is a few kilobytes. Run it again to
remake them: ``python tools/make_arena_inputs.py``. Deterministic (no randomness).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parents[1] / "src" / "imagegate" / "arena" / "data" / "inputs"
SIZE = 512
Draw = ImageDraw.ImageDraw


def person(d: Draw, x: int, y: int, scale: float, shirt: str, hair: str | None = "#3b2a1a") -> None:
    """A standing figure whose feet are at (x, y)."""
    s = scale
    d.rectangle([x - 18 * s, y - 90 * s, x - 4 * s, y], fill="#2d3a55")  # legs
    d.rectangle([x + 4 * s, y - 90 * s, x + 18 * s, y], fill="#2d3a55")
    d.rounded_rectangle([x - 26 * s, y - 170 * s, x + 26 * s, y - 85 * s], radius=10 * s, fill=shirt)
    d.ellipse([x - 20 * s, y - 215 * s, x + 20 * s, y - 170 * s], fill="#e5b894")
    if hair:
        d.pieslice([x - 21 * s, y - 218 * s, x + 21 * s, y - 180 * s], 180, 360, fill=hair)


def face(d: Draw, hair: bool, smile: bool = False, hair_color: str = "#4a3221", shirt: str = "#4b6a88") -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill="#b9c7d6")
    d.rounded_rectangle([126, 360, 386, 560], radius=60, fill=shirt)  # shoulders
    d.rectangle([226, 320, 286, 380], fill="#dcab86")  # neck
    d.ellipse([156, 110, 356, 350], fill="#e8bc98")
    if hair:
        d.chord([150, 90, 362, 260], 180, 360, fill=hair_color)
        d.rectangle([150, 170, 172, 270], fill=hair_color)
        d.rectangle([340, 170, 362, 270], fill=hair_color)
    for ex in (210, 282):
        d.ellipse([ex, 205, ex + 22, 222], fill="#ffffff")
        d.ellipse([ex + 6, 207, ex + 16, 220], fill="#3a2a1c")
    d.line([256, 225, 248, 272, 262, 272], fill="#c48f6c", width=4)
    if smile:
        d.arc([216, 270, 296, 318], 10, 170, fill="#8a3b3b", width=5)
    else:
        d.line([228, 300, 284, 300], fill="#8a3b3b", width=5)


def man_and_car(d: Draw) -> None:
    d.rectangle([0, 0, SIZE, 300], fill="#8cc7ef")
    d.rectangle([0, 300, SIZE, 340], fill="#3f87b8")  # ocean
    d.rectangle([0, 340, SIZE, SIZE], fill="#7b7b7b")  # road
    for px in (40, 460):
        d.rectangle([px, 150, px + 10, 340], fill="#7a5a35")
        d.ellipse([px - 40, 120, px + 50, 175], fill="#3d8b3d")
    d.rounded_rectangle([150, 330, 470, 420], radius=30, fill="#c62828")
    d.polygon([(210, 330), (250, 290), (360, 290), (400, 330)], fill="#e57373")
    for wx in (200, 410):
        d.ellipse([wx - 32, 395, wx + 32, 459], fill="#222222")
    person(d, 110, 450, 1.0, shirt="#f0f0f0")


def stroll(d: Draw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill="#f3c27a")
    d.polygon([(200, SIZE), (312, SIZE), (270, 250), (242, 250)], fill="#c9a36b")
    for tx in (40, 120, 390, 470):
        d.rectangle([tx, 200, tx + 14, SIZE], fill="#6b4b2a")
        d.ellipse([tx - 55, 90, tx + 70, 240], fill="#5f8f3a")
    person(d, 232, 470, 1.2, shirt="#b23a48")
    person(d, 292, 470, 1.15, shirt="#2f6690", hair="#111111")


def landscape_day(d: Draw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill="#9fd3f5")
    d.polygon([(0, 330), (150, 120), (260, 300), (360, 90), (SIZE, 330)], fill="#7d8ea3")
    d.polygon([(118, 165), (150, 120), (182, 165)], fill="#ffffff")
    d.polygon([(328, 135), (360, 90), (392, 135)], fill="#ffffff")
    d.rectangle([0, 330, SIZE, SIZE], fill="#4f86a6")  # lake
    d.rectangle([60, 290, 150, 340], fill="#8d5a3b")  # cabin
    d.polygon([(50, 292), (105, 250), (160, 292)], fill="#5a3a26")
    d.rectangle([95, 305, 115, 325], fill="#f2e3a0")
    d.ellipse([420, 40, 480, 100], fill="#fff3b0")


def village(d: Draw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill="#bfe3f2")
    d.rectangle([0, 330, SIZE, SIZE], fill="#8fbf5a")
    d.polygon([(180, SIZE), (332, SIZE), (270, 330), (242, 330)], fill="#d8c39a")
    for hx, color in ((30, "#e9d8b4"), (330, "#f1e2c6")):
        d.rectangle([hx, 220, hx + 150, 340], fill=color)
        d.polygon([(hx - 15, 222), (hx + 75, 150), (hx + 165, 222)], fill="#b5533c")
        d.rectangle([hx + 60, 280, hx + 90, 340], fill="#6d4c33")
    d.ellipse([200, 40, 320, 110], fill="#ffffff")


def still_life(d: Draw) -> None:
    d.rectangle([0, 0, SIZE, SIZE], fill="#e8e1d6")
    d.rectangle([0, 330, SIZE, SIZE], fill="#9c6b43")  # table
    d.rounded_rectangle([200, 230, 290, 340], radius=10, fill="#2a6fd1")  # the blue mug
    d.arc([270, 250, 320, 310], 270, 90, fill="#2a6fd1", width=12)
    d.ellipse([60, 280, 160, 350], fill="#e0a030")  # an orange
    d.rectangle([350, 200, 380, 340], fill="#3c6e47")  # a bottle
    d.rectangle([358, 170, 372, 200], fill="#3c6e47")
    d.polygon([(400, 340), (470, 340), (450, 300), (420, 300)], fill="#f5f5f5")  # a bowl


IMAGES: dict[str, Callable[[Draw], None]] = {
    "man-and-car.png": man_and_car,
    "stroll.png": stroll,
    "portrait-hair.png": lambda d: face(d, hair=True),
    "portrait-neutral.png": lambda d: face(d, hair=True, hair_color="#c98b2f", shirt="#7a3e6e"),
    "landscape-day.png": landscape_day,
    "village.png": village,
    "still-life.png": still_life,
}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, draw in IMAGES.items():
        img = Image.new("RGB", (SIZE, SIZE), "white")
        draw(ImageDraw.Draw(img))
        img.quantize(colors=32).save(OUT / name, optimize=True)
        print(OUT / name, (OUT / name).stat().st_size)


if __name__ == "__main__":
    main()
