"""Output normalisation: pass-through fast paths, format conversion, compression, alpha handling."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

import imagegate.media.convert as convert_module
from imagegate.core.errors import GatewayError, InvalidRequest
from imagegate.core.types import GeneratedImage
from imagegate.media.convert import convert_bytes, normalise
from imagegate.media.formats import sniff_format
from imagegate.media.inspect import accepted_formats

FORMATS = ["png", "jpeg", "webp", "gif", *(["avif"] if "avif" in accepted_formats() else [])]


def noisy(mode: str = "RGB", size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Detailed enough that lossy quality visibly changes the file size."""
    img = Image.effect_noise(size, 60).convert("RGB")
    img = Image.merge("RGB", (img.getchannel(0), Image.linear_gradient("L").resize(size), img.getchannel(0)))
    if mode == "RGBA":
        img = img.convert("RGBA")
        alpha = Image.new("L", size, 255)
        alpha.paste(0, (0, 0, size[0] // 2, size[1]))  # left half fully transparent
        img.putalpha(alpha)
    return img


def encoded(fmt: str, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    noisy(mode).save(buf, format=fmt.upper())
    return buf.getvalue()


def as_b64(data: bytes, mime: str = "image/png") -> GeneratedImage:
    return GeneratedImage(mime_type=mime, b64=base64.b64encode(data).decode("ascii"))


@pytest.fixture
def no_pillow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the fast path touches Pillow."""

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("Pillow must not run on this path")

    monkeypatch.setattr(convert_module.Image, "open", boom)


async def test_b64_pass_through_returns_the_same_string(no_pillow: None) -> None:
    img = as_b64(encoded("png"))
    out = await normalise([img], output_format=None, compression=None, want_b64=True)
    assert out[0].b64 is img.b64
    out = await normalise([img], output_format="png", compression=80, want_b64=True)
    assert out[0].b64 is img.b64
    assert out[0].mime_type == "image/png"


async def test_declared_mime_is_not_trusted(no_pillow: None) -> None:
    img = as_b64(encoded("jpeg"), mime="image/png")  # provider says png, bytes are jpeg
    out = await normalise([img], output_format="jpeg", compression=None, want_b64=True)
    assert out[0].b64 is img.b64
    assert out[0].mime_type == "image/jpeg"


async def test_url_wanted_from_b64_only_decodes(no_pillow: None) -> None:
    raw = encoded("webp")
    out = await normalise([as_b64(raw, "image/webp")], output_format="webp", compression=None, want_b64=False)
    assert out[0].data == raw
    assert out[0].mime_type == "image/webp"


async def test_b64_wanted_from_bytes_only_encodes(no_pillow: None) -> None:
    raw = encoded("png")
    img = GeneratedImage(mime_type="image/png", data=raw)
    out = await normalise([img], output_format=None, compression=None, want_b64=True)
    assert base64.b64decode(out[0].b64 or "") == raw
    same = await normalise([img], output_format="png", compression=None, want_b64=False)
    assert same[0] is img


@pytest.mark.parametrize("source", ["png", "jpeg", "webp"])
@pytest.mark.parametrize("target", FORMATS)
async def test_round_trip_between_formats(source: str, target: str) -> None:
    img = as_b64(encoded(source), mime=f"image/{source}")
    [out] = await normalise([img], output_format=target, compression=None, want_b64=True)
    assert out.mime_type == f"image/{target}"
    if source == target:
        assert out is img  # nothing to do: passed through
        return
    assert out.data is not None and out.b64 is not None
    assert base64.b64decode(out.b64) == out.data
    assert sniff_format(out.data) == target
    with Image.open(io.BytesIO(out.data)) as back:
        assert back.size == (96, 64) == (out.width, out.height)
        assert back.format == {"jpeg": "JPEG"}.get(target, target.upper())


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f in ("jpeg", "webp", "avif")])
def test_compression_changes_size(fmt: str) -> None:
    source = encoded("png")
    low, _, _ = convert_bytes(source, fmt, compression=10)
    high, _, _ = convert_bytes(source, fmt, compression=95)
    assert len(low) < len(high)


async def test_url_output_has_bytes_only() -> None:
    [out] = await normalise([as_b64(encoded("png"))], output_format="jpeg", compression=50, want_b64=False)
    assert out.b64 is None and out.data is not None and sniff_format(out.data) == "jpeg"


def _pixel(data: bytes, xy: tuple[int, int]) -> tuple[int, ...]:
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGBA").getpixel(xy)  # type: ignore[return-value]


def test_rgba_to_jpeg_flattens_on_white() -> None:
    data, _, _ = convert_bytes(encoded("png", "RGBA"), "jpeg", compression=95, background="transparent")
    r, g, b, a = _pixel(data, (5, 30))  # in the transparent half
    assert min(r, g, b) > 240 and a == 255


def test_rgba_to_webp_keeps_alpha_unless_opaque() -> None:
    rgba = encoded("png", "RGBA")
    kept, _, _ = convert_bytes(rgba, "webp", compression=None)
    assert _pixel(kept, (5, 30))[3] == 0
    opaque, _, _ = convert_bytes(rgba, "webp", compression=None, background="opaque")
    assert _pixel(opaque, (5, 30))[3] == 255


async def test_many_images_keep_their_order() -> None:
    images = [
        as_b64(encoded("png")),
        GeneratedImage(mime_type="image/jpeg", data=encoded("jpeg")),
        as_b64(encoded("webp"), "image/webp"),
    ]
    out = await normalise(images, output_format="webp", compression=None, want_b64=True)
    assert [o.mime_type for o in out] == ["image/webp"] * 3
    assert out[2].b64 is images[2].b64  # already webp: untouched
    assert all(sniff_format(base64.b64decode(o.b64 or "")) == "webp" for o in out)


async def test_undecodable_provider_output_is_a_502() -> None:
    bad = as_b64(b"\x89PNG\r\n\x1a\n" + b"\x00" * 50)
    with pytest.raises(GatewayError) as exc:
        await normalise([bad], output_format="jpeg", compression=None, want_b64=True)
    assert exc.value.status == 502
    with pytest.raises(GatewayError):
        await normalise(
            [GeneratedImage(mime_type="image/png", b64="***")], output_format="jpeg", compression=None, want_b64=True
        )


async def test_unknown_output_format_is_a_400() -> None:
    with pytest.raises(InvalidRequest) as exc:
        await normalise([as_b64(encoded("png"))], output_format="bmp", compression=None, want_b64=True)
    assert exc.value.param == "output_format"


async def test_jpg_alias() -> None:
    [out] = await normalise([as_b64(encoded("png"))], output_format="jpg", compression=None, want_b64=True)
    assert out.mime_type == "image/jpeg"
