"""The offline placeholder provider: deterministic, right size and format, edits show the input."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from imagegate.catalog import load_catalog
from imagegate.catalog.schema import Offer
from imagegate.core.types import ImageRequest, InputImage, RenderSpec
from imagegate.media.formats import sniff_format
from imagegate.providers.base import Provider, ProviderCall
from imagegate.providers.placeholder import PlaceholderProvider, fit_pixels


@pytest.fixture(scope="module")
def offer() -> Offer:
    catalog = load_catalog()
    model = catalog.get("gemini-3-pro-image-preview")
    assert model is not None
    return catalog.placeholder_offer(model)  # png, jpeg, webp


def call(
    offer: Offer,
    *,
    prompt: str = "a lighthouse at dusk",
    seed: int | None = 7,
    size: tuple[int, int] = (320, 200),
    fmt: str | None = None,
    n: int = 1,
    images: list[InputImage] | None = None,
) -> ProviderCall:
    request = ImageRequest(
        operation="edit" if images else "generate",
        model="gemini-3-pro-image-preview",
        prompt=prompt,
        seed=seed,
        output_format=fmt,
        n=n,
        images=images or [],
    )
    spec = RenderSpec(aspect_ratio=None, resolution=None, width=size[0], height=size[1])
    return ProviderCall(request=request, offer=offer, spec=spec, n=n, deadline=time.monotonic() + 60)


def decode(data: bytes | None) -> Image.Image:
    assert data is not None
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_is_a_provider() -> None:
    provider = PlaceholderProvider()
    assert isinstance(provider, Provider)
    assert provider.name == "placeholder"


async def test_deterministic(offer: Offer) -> None:
    provider = PlaceholderProvider()
    for fmt in (None, "jpeg", "webp"):
        first = await provider.generate(call(offer, fmt=fmt))
        second = await provider.generate(call(offer, fmt=fmt))
        assert first.images[0].data == second.images[0].data
    await provider.aclose()


async def test_prompt_and_seed_change_the_image(offer: Offer) -> None:
    provider = PlaceholderProvider()
    base = (await provider.generate(call(offer))).images[0].data
    other_seed = (await provider.generate(call(offer, seed=8))).images[0].data
    other_prompt = (await provider.generate(call(offer, prompt="a lighthouse at dawn"))).images[0].data
    assert len({base, other_seed, other_prompt}) == 3
    # the background colour itself comes from the hash
    assert decode(base).convert("RGB").getpixel((1, 1)) != decode(other_seed).convert("RGB").getpixel((1, 1))


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [(None, "png"), ("png", "png"), ("jpeg", "jpeg"), ("jpg", "jpeg"), ("webp", "webp"), ("gif", "png")],
)
async def test_size_and_format(offer: Offer, fmt: str | None, expected: str) -> None:
    result = await PlaceholderProvider().generate(call(offer, fmt=fmt, size=(300, 500)))
    [img] = result.images
    assert sniff_format(img.data or b"") == expected
    assert img.mime_type == f"image/{expected}"
    assert decode(img.data).size == (300, 500) == (img.width, img.height)
    assert result.text is None


async def test_n_images_and_usage(offer: Offer) -> None:
    result = await PlaceholderProvider().generate(call(offer, n=3))
    assert len(result.images) == 3
    assert len({i.data for i in result.images}) == 3  # distinct variants
    assert (result.usage.output_images, result.usage.input_images) == (3, 0)


async def test_edit_draws_the_input_thumbnail(offer: Offer) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (0, 0, 0)).save(buf, format="PNG")
    source = InputImage(data=buf.getvalue(), mime_type="image/png", width=120, height=80)
    plain = await PlaceholderProvider().generate(call(offer, size=(600, 400)))
    edited = await PlaceholderProvider().generate(call(offer, size=(600, 400), images=[source, source]))
    assert edited.usage.input_images == 2
    assert edited.images[0].data != plain.images[0].data
    # the black input shows up, scaled in, near the top-left corner
    top_left = decode(edited.images[0].data).convert("RGB").crop((50, 50, 150, 100))
    assert (0, 0, 0) in {c for _, c in top_left.getcolors(10_000) or []}


async def test_4k_is_fast(offer: Offer) -> None:
    started = time.perf_counter()
    result = await PlaceholderProvider().generate(call(offer, size=(5504, 3072)))
    elapsed = time.perf_counter() - started
    assert decode(result.images[0].data).size == (5504, 3072)
    assert elapsed < 3.0  # a few hundred ms on a laptop core; generous for shared CI


def test_fit_pixels() -> None:
    assert fit_pixels(1024, 1024) == (1024, 1024)
    w, h = fit_pixels(16384, 16384)
    assert w * h <= 24_000_000 and w == h
    assert fit_pixels(0, 10) == (1, 10)


async def test_output_compression_is_honoured(offer: Offer) -> None:
    provider = PlaceholderProvider()
    sizes = []
    for compression in (10, 95):
        c = call(offer, fmt="jpeg", size=(512, 512))
        c.request.output_compression = compression
        sizes.append(len((await provider.generate(c)).images[0].data or b""))
    assert sizes[0] < sizes[1]


@pytest.mark.parametrize("fmt", ["gif", "avif"])
async def test_formats_the_offer_lacks_are_converted_by_normalise(offer: Offer, fmt: str) -> None:
    """What the pipeline does: map the size, render with the placeholder, normalise to the asked format."""
    from imagegate.media.convert import normalise
    from imagegate.media.inspect import accepted_formats
    from imagegate.media.sizes import map_size

    if fmt not in accepted_formats():
        pytest.skip(f"Pillow without {fmt}")
    c = call(offer, fmt=fmt)
    c.request.aspect_ratio = "16:9"
    c.spec = map_size(c.request, offer.capabilities)
    result = await PlaceholderProvider().generate(c)
    [out] = await normalise(result.images, output_format=fmt, compression=None, want_b64=True)
    assert out.mime_type == f"image/{fmt}"
    assert decode(out.data).size == (1376, 768)
