"""Upload inspection: formats, non-images, truncated files, decompression bombs, mask size."""

from __future__ import annotations

import io
import struct
import time
import zlib

import pytest
from PIL import Image

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import InputImage
from imagegate.media.formats import sniff_b64, sniff_format
from imagegate.media.inspect import accepted_formats, check_mask, inspect_image

LIMIT = 64_000_000


def encode(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.linear_gradient("L").resize(size).convert(mode).save(buf, format=fmt)
    return buf.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A real 1x1 PNG whose IHDR is rewritten (CRC fixed) to declare ``width x height``."""
    data = bytearray(encode("PNG", (1, 1)))
    ihdr = 8 + 8  # signature, then length + "IHDR"
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")],
)
def test_valid_images(fmt: str, mime: str) -> None:
    data = encode(fmt)
    img = inspect_image(data, max_pixels=LIMIT, filename="in.x")
    assert (img.mime_type, img.width, img.height, img.filename) == (mime, 40, 30, "in.x")
    assert img.data is data


@pytest.mark.skipif("avif" not in accepted_formats(), reason="Pillow without AVIF")
def test_valid_avif() -> None:
    img = inspect_image(encode("AVIF"), max_pixels=LIMIT)
    assert (img.mime_type, img.width, img.height) == ("image/avif", 40, 30)


def test_rgba_png() -> None:
    assert inspect_image(encode("PNG", mode="RGBA"), max_pixels=LIMIT).mime_type == "image/png"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"hello, I am plainly text and not a picture", "not an image"),
        (b'{"json": true}', "not an image"),
        (b"\x00" * 100, "not an image"),
    ],
)
def test_non_images(data: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words) as exc:
        inspect_image(data, max_pixels=LIMIT, field="image[]")
    assert exc.value.param == "image[]"
    assert exc.value.status == 400


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_unsupported_formats_are_named(fmt: str) -> None:
    with pytest.raises(InvalidRequest, match=f"Unsupported image format '{fmt.lower()}'") as exc:
        inspect_image(encode(fmt), max_pixels=LIMIT)
    assert "png, jpeg, webp, gif" in exc.value.message
    assert exc.value.param == "image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_truncated_files(fmt: str) -> None:
    data = encode(fmt, (400, 300))
    with pytest.raises(InvalidRequest, match="truncated or corrupt") as exc:
        inspect_image(data[: len(data) // 2], max_pixels=LIMIT, filename="half.img", field="mask")
    assert exc.value.param == "mask"
    assert "half.img" in exc.value.message


def test_magic_number_only() -> None:
    with pytest.raises(InvalidRequest, match="png") as exc:
        inspect_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10, max_pixels=LIMIT)
    assert exc.value.param == "image"


def test_corrupt_png_data() -> None:
    data = bytearray(encode("PNG", (200, 200)))
    idat = data.index(b"IDAT")
    data[idat + 8 : idat + 40] = b"\xff" * 32  # scramble the compressed pixels (CRC now wrong too)
    with pytest.raises(InvalidRequest, match="corrupt"):
        inspect_image(bytes(data), max_pixels=LIMIT)


def test_decompression_bomb_is_refused_from_the_header_quickly() -> None:
    bomb = png_declaring(100_000, 100_000)
    assert len(bomb) < 100
    started = time.perf_counter()
    with pytest.raises(InvalidRequest, match="exceeds the limit of 64,000,000 pixels") as exc:
        inspect_image(bomb, max_pixels=LIMIT, field="image")
    assert time.perf_counter() - started < 0.5
    assert exc.value.param == "image"


def test_our_pixel_limit_applies_below_pillows() -> None:
    data = png_declaring(3000, 3000)  # 9 MP: under Pillow's own limit, over ours
    with pytest.raises(InvalidRequest, match="3000x3000 pixels") as exc:
        inspect_image(data, max_pixels=1_000_000, field="mask")
    assert exc.value.param == "mask"


def test_header_within_limit_but_data_missing_is_corrupt() -> None:
    with pytest.raises(InvalidRequest, match="truncated or corrupt"):
        inspect_image(png_declaring(500, 500), max_pixels=LIMIT)


def test_check_mask() -> None:
    image = InputImage(data=b"", mime_type="image/png", width=64, height=48)
    check_mask(InputImage(data=b"", mime_type="image/png", width=64, height=48), image)
    with pytest.raises(InvalidRequest, match="32x32 but the image is 64x48") as exc:
        check_mask(InputImage(data=b"", mime_type="image/png", width=32, height=32), image)
    assert exc.value.param == "mask"


@pytest.mark.parametrize(
    ("fmt", "name"),
    [("PNG", "png"), ("JPEG", "jpeg"), ("WEBP", "webp"), ("GIF", "gif"), ("BMP", "bmp"), ("TIFF", "tiff")],
)
def test_sniff_format(fmt: str, name: str) -> None:
    import base64

    data = encode(fmt)
    assert sniff_format(data) == name
    assert sniff_b64(base64.b64encode(data).decode()) == name


def test_sniff_unknown_and_others() -> None:
    assert sniff_format(b"") is None
    assert sniff_format(b"hello") is None
    assert sniff_format(b"%PDF-1.7 ...") == "pdf"
    assert sniff_format(b"<svg xmlns='http://www.w3.org/2000/svg'/>") == "svg"
    assert sniff_format(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") == "heic"
    assert sniff_format(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1avifmiaf") == "avif"
    assert sniff_b64("not base64 at all!") is None


def test_base64_slices_of_an_upstream_body_are_read_in_place() -> None:
    """A memoryview into the upstream body (``providers/b64lift.py``) is sniffed and sized from its prefix."""
    import base64

    from imagegate.core.types import GeneratedImage
    from imagegate.media.dimensions import pixel_dimensions

    buf = io.BytesIO()
    Image.new("RGB", (300, 200)).save(buf, "PNG")
    body = b'{"b64_json":"' + base64.b64encode(buf.getvalue()) + b'"}'
    view = memoryview(body)[13:-2]
    assert sniff_b64(view) == "png" == sniff_b64(bytes(view).decode())
    assert pixel_dimensions(GeneratedImage("image/png", b64=view)) == (300, 200)
    from imagegate.core.slices import Slices
    from imagegate.media.formats import png_size

    across = Slices([view[:10], view[10:]])  # the header split over two receive chunks
    assert png_size(view) == png_size(across) == png_size(bytes(view).decode()) == (300, 200)
    assert png_size(base64.b64encode(b"GIF89a" + bytes(40))) is None
