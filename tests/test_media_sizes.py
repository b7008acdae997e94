"""Size mapping: WxH / W:H / aspect_ratio / resolution / auto onto ratio-and-tier offers and exact-size offers."""

from __future__ import annotations

import pytest

from imagegate.catalog.schema import OfferCapabilities
from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ImageRequest, RenderSpec
from imagegate.media.sizes import SizeMap, map_size, nearest_ratio, nearest_tier, pixel_size, tier_for

RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
GEMINI = OfferCapabilities(resolutions=("1K", "2K", "4K"), aspect_ratios=RATIOS)
FLASH = OfferCapabilities(resolutions=("1K",), aspect_ratios=RATIOS)
HALF = OfferCapabilities(resolutions=("0.5K", "1K", "2K"), aspect_ratios=("1:1", "16:9", "9:16"))
OPENAI = OfferCapabilities(
    resolutions=("1K",), aspect_ratios=("1:1", "3:2", "2:3"), sizes=("1024x1024", "1536x1024", "1024x1536", "auto")
)
OPENAI_NO_AUTO = OfferCapabilities(resolutions=("1K",), sizes=("1024x1024", "1536x1024", "1024x1536"))


def req(size: str | None = None, *, aspect_ratio: str | None = None, resolution: str | None = None) -> ImageRequest:
    return ImageRequest(
        operation="generate", model="m", prompt="p", size=size, aspect_ratio=aspect_ratio, resolution=resolution
    )


def spec(ratio: str | None, tier: str | None, w: int, h: int, exact: bool = False) -> RenderSpec:
    return RenderSpec(aspect_ratio=ratio, resolution=tier, width=w, height=h, exact_size=exact)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("1024x1024", spec("1:1", "1K", 1024, 1024, True)),
        ("1536x1024", spec("3:2", "2K", 1536, 1024, True)),
        ("1024x1536", spec("2:3", "2K", 1024, 1536, True)),
        ("1792x1024", spec("16:9", "2K", 1792, 1024, True)),
        ("1024x1792", spec("9:16", "2K", 1024, 1792, True)),
        ("512x512", spec("1:1", "1K", 512, 512, True)),
        ("256x256", spec("1:1", "1K", 256, 256, True)),
        ("2048x2048", spec("1:1", "2K", 2048, 2048, True)),
        ("3840x2160", spec("16:9", "4K", 3840, 2160, True)),
        ("8000x4000", spec("16:9", "4K", 8000, 4000, True)),  # beyond the largest tier: the largest
        ("1000x800", spec("5:4", "1K", 1000, 800, True)),
        ("2520x1080", spec("21:9", "4K", 2520, 1080, True)),
        ("1200X900", spec("4:3", "2K", 1200, 900, True)),  # upper-case X accepted
        (" 1024 x 1024 ", spec("1:1", "1K", 1024, 1024, True)),
        ("16:9", spec("16:9", None, 1376, 768)),
        ("9:16", spec("9:16", None, 768, 1376)),
        ("2.39:1", spec("21:9", None, 1584, 672)),
        ("7:5", spec("4:3", None, 1200, 896)),
        ("auto", spec(None, None, 1024, 1024)),
        (None, spec(None, None, 1024, 1024)),
    ],
)
def test_gemini_sizes(size: str | None, expected: RenderSpec) -> None:
    assert map_size(req(size), GEMINI) == expected


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"aspect_ratio": "16:9"}, spec("16:9", None, 1376, 768)),
        ({"aspect_ratio": "16:9", "resolution": "2K"}, spec("16:9", "2K", 2752, 1536)),
        ({"aspect_ratio": "16:9", "resolution": "4K"}, spec("16:9", "4K", 5504, 3072)),
        ({"aspect_ratio": "auto", "resolution": "auto"}, spec(None, None, 1024, 1024)),
        ({"resolution": "2K"}, spec(None, "2K", 2048, 2048)),
        ({"resolution": "0.5K"}, spec(None, "1K", 1024, 1024)),  # nearest supported tier
        ({"resolution": "2k"}, spec(None, "2K", 2048, 2048)),
        # explicit fields win over what size says
        ({"size": "1024x1024", "aspect_ratio": "16:9"}, spec("16:9", "1K", 1376, 768)),
        ({"size": "1024x1024", "resolution": "4K"}, spec("1:1", "4K", 4096, 4096)),
        ({"size": "3:2", "resolution": "2K"}, spec("3:2", "2K", 2528, 1696)),
    ],
)
def test_ratio_and_resolution_fields(kwargs: dict, expected: RenderSpec) -> None:
    assert map_size(req(**kwargs), GEMINI) == expected


def test_single_tier_offer_stays_at_its_tier() -> None:
    assert map_size(req("3840x2160"), FLASH) == spec("16:9", "1K", 3840, 2160, True)
    assert map_size(req(resolution="4K"), FLASH) == spec(None, "1K", 1024, 1024)


def test_half_k_tier() -> None:
    assert map_size(req("512x512"), HALF) == spec("1:1", "0.5K", 512, 512, True)
    assert map_size(req(resolution="0.5K"), HALF) == spec(None, "0.5K", 512, 512)
    assert map_size(req("4:3"), HALF).aspect_ratio == "1:1"  # nearest of 1:1, 16:9, 9:16 (log space)
    assert map_size(req(resolution="4K"), HALF).resolution == "2K"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"size": "1024x1024"}, spec("1:1", "1K", 1024, 1024, True)),
        ({"size": "1536x1024"}, spec("3:2", "1K", 1536, 1024, True)),
        ({"size": "1024x1536"}, spec("2:3", "1K", 1024, 1536, True)),
        ({"size": "1792x1024"}, spec("3:2", "1K", 1536, 1024, True)),
        ({"size": "1024x1792"}, spec("2:3", "1K", 1024, 1536, True)),
        ({"size": "256x256"}, spec("1:1", "1K", 1024, 1024, True)),
        ({"size": "3840x2160"}, spec("3:2", "1K", 1536, 1024, True)),
        ({"size": "16:9"}, spec("3:2", "1K", 1536, 1024)),
        ({"aspect_ratio": "9:10"}, spec("1:1", "1K", 1024, 1024)),
        ({"aspect_ratio": "4:5"}, spec("2:3", "1K", 1024, 1536)),  # log space: nearer 2:3 than 1:1
        ({"aspect_ratio": "3:4"}, spec("2:3", "1K", 1024, 1536)),
        ({"size": "auto"}, spec(None, None, 1024, 1024)),
        ({}, spec(None, None, 1024, 1024)),
    ],
)
def test_exact_size_offer(kwargs: dict, expected: RenderSpec) -> None:
    assert map_size(req(**kwargs), OPENAI) == expected


def test_exact_size_offer_without_auto_gets_a_listed_size() -> None:
    assert map_size(req(), OPENAI_NO_AUTO) == spec("1:1", "1K", 1024, 1024)


@pytest.mark.parametrize(
    "size",
    [
        "0x1024",
        "1024x0",
        "-5x100",
        "abc",
        "1024",
        "1024x",
        "x1024",
        "10.5x20",
        "16385x1024",
        "1024x99999",
        "100000x100000",
        "9000x1000",
        "1000x9000",
        "0:1",
        "1:0",
        "16:",
        "huge",
    ],
)
def test_impossible_sizes_name_the_supported_values(size: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        map_size(req(size), GEMINI)
    assert exc.value.param == "size"
    assert exc.value.status == 400
    assert "1:1, 2:3" in exc.value.message and "21:9" in exc.value.message
    assert "1K, 2K, 4K" in exc.value.message
    assert repr(size) in exc.value.message


def test_impossible_size_on_exact_size_offer_lists_the_sizes() -> None:
    with pytest.raises(InvalidRequest) as exc:
        map_size(req("0x0"), OPENAI)
    assert exc.value.param == "size"
    assert "1024x1024, 1536x1024, 1024x1536, auto" in exc.value.message


def test_eight_to_one_is_allowed() -> None:
    assert map_size(req("8000x1000"), GEMINI).aspect_ratio == "21:9"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"aspect_ratio": "wide"}, "aspect_ratio"),
        ({"aspect_ratio": "10:1"}, "aspect_ratio"),
        ({"aspect_ratio": "0:3"}, "aspect_ratio"),
        ({"resolution": "3K"}, "resolution"),
        ({"resolution": "high"}, "resolution"),
    ],
)
def test_bad_aspect_ratio_and_resolution(kwargs: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as exc:
        map_size(req(**kwargs), GEMINI)
    assert exc.value.param == param


def test_resolution_error_names_the_tiers() -> None:
    with pytest.raises(InvalidRequest, match=r"'auto', '0.5K', '1K', '2K', '4K'"):
        map_size(req(resolution="3K"), GEMINI)


@pytest.mark.parametrize(
    ("ratio", "tier", "expected"),
    [
        ("1:1", "1K", (1024, 1024)),
        ("1:1", "2K", (2048, 2048)),
        ("1:1", "4K", (4096, 4096)),
        ("16:9", "1K", (1376, 768)),
        ("16:9", "2K", (2752, 1536)),
        ("16:9", "4K", (5504, 3072)),
        ("9:16", "1K", (768, 1376)),
        ("3:2", "1K", (1264, 848)),
        ("2:3", "1K", (848, 1264)),
        ("4:3", "1K", (1200, 896)),
        ("3:4", "1K", (896, 1200)),
        ("4:5", "1K", (928, 1152)),
        ("5:4", "1K", (1152, 928)),
        ("21:9", "1K", (1584, 672)),
        ("21:9", "4K", (6336, 2688)),
        ("1:1", "0.5K", (512, 512)),
        (None, None, (1024, 1024)),
    ],
)
def test_pixel_size(ratio: str | None, tier: str | None, expected: tuple[int, int]) -> None:
    assert pixel_size(ratio, tier) == expected


def test_pixel_size_of_an_unlisted_ratio_keeps_shape_and_area() -> None:
    w, h = pixel_size("2:1", "1K")
    assert (w % 16, h % 16) == (0, 0)
    assert abs(w / h - 2) < 0.05
    assert abs(w * h - 1024 * 1024) / (1024 * 1024) < 0.05


def test_helpers() -> None:
    assert tier_for(1025, ("1K", "2K", "4K")) == "2K"
    assert tier_for(1024, ("1K", "2K", "4K")) == "1K"
    assert tier_for(9999, ("1K", "2K")) == "2K"
    assert tier_for(100, ()) is None
    assert nearest_tier("2K", ("1K", "4K")) == "4K"  # equidistant in log space: the larger
    assert nearest_ratio(1.0, ("16:9", "1:1")) == "1:1"
    assert nearest_ratio(1.0, ()) is None


def test_size_map_remembers_results_per_offer_and_request_fields() -> None:
    sizes = SizeMap(max_entries=3)
    cases = [
        (req("1536x1024"), GEMINI),
        (req("16:9", resolution="2K"), GEMINI),
        (req("1536x1024"), OPENAI),
        (req(aspect_ratio="9:16"), HALF),
    ]
    for r, caps in cases:
        assert sizes(r, caps) == map_size(r, caps)
    first = sizes(req("1536x1024"), OPENAI)
    assert sizes(req("1536x1024"), OPENAI) is first  # remembered, not recomputed
    assert sizes(req("1536x1024"), GEMINI) != first  # another offer, another answer
    twin = OfferCapabilities(**OPENAI.model_dump())  # equal but another object: its own entry
    assert sizes(req("1536x1024"), twin) == first
    with pytest.raises(InvalidRequest):
        sizes(req("0x0"), GEMINI)
    with pytest.raises(InvalidRequest):  # errors are raised every time, never remembered
        sizes(req("0x0"), GEMINI)


def test_render_specs_are_immutable_so_they_can_be_shared() -> None:
    shared = SizeMap()(req("1024x1024"), GEMINI)
    with pytest.raises(AttributeError):
        shared.width = 1  # type: ignore[misc]
