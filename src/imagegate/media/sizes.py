"""Map a client's ``size`` / ``aspect_ratio`` / ``resolution`` onto what one offer can render.

The rules (docs/sizes.md shows them as a table):

- ``size="WxH"`` sets shape and scale: the supported aspect ratio nearest to W/H (compared in log space) and the
  smallest resolution tier whose long side is at least max(W, H), else the largest tier.
- ``size="W:H"`` or ``aspect_ratio="W:H"`` set shape alone: the nearest supported ratio, at ``resolution`` or the
  provider's default tier.
- ``resolution`` (``auto|0.5K|1K|2K|4K``) maps to the nearest supported tier; ``auto`` means the provider's default.
- ``size="auto"`` or no size: the provider's defaults.
- Explicit ``aspect_ratio`` / ``resolution`` fields win over the shape / scale read from ``size``.
- Offers with exact ``sizes`` (OpenAI style) get a listed size: the asked one when listed, otherwise the nearest by
  aspect ratio, then by area.

The gateway returns the provider's native pixels: it never resizes (see docs/sizes.md for why).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from imagegate.core.errors import InvalidRequest
from imagegate.core.types import ImageRequest, RenderSpec

if TYPE_CHECKING:  # media imports only core at run time (DESIGN.md layering)
    from imagegate.catalog.schema import OfferCapabilities

TIER_LONG_SIDE = {"0.5K": 512, "1K": 1024, "2K": 2048, "4K": 4096}
MAX_SIDE = 16384
MAX_EXTREME_RATIO = 8.0  # 1:8 or 8:1, unless an offer supports something more extreme

# Pixel sizes Gemini 3 Pro Image returns at 1K; 2K doubles them and 4K multiplies them by four.
_GEMINI_1K: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
}

# Bounded digit counts: a 5000-digit side must be a clean 400, not int()'s digit-limit ValueError.
_WXH = re.compile(r"^\s*(-?\d{1,9})\s*[xX×]\s*(-?\d{1,9})\s*$")
_RATIO = re.compile(r"^\s*(-?\d{1,9}(?:\.\d{1,9})?)\s*:\s*(-?\d{1,9}(?:\.\d{1,9})?)\s*$")


def pixel_size(aspect_ratio: str | None, resolution: str | None) -> tuple[int, int]:
    """The pixels a Gemini-style provider returns for a ratio and tier (None: ``1:1`` / ``1K``).

    Known ratios use Gemini 3 Pro Image's published sizes; other ratios get about tier² pixels, in multiples of 16.
    """
    ratio = aspect_ratio or "1:1"
    tier = resolution if resolution in TIER_LONG_SIDE else "1K"
    scale = TIER_LONG_SIDE[tier] / 1024
    if ratio in _GEMINI_1K:
        w, h = _GEMINI_1K[ratio]
        return round(w * scale), round(h * scale)
    value = _parse_ratio(ratio, "aspect_ratio")
    area = TIER_LONG_SIDE[tier] ** 2
    w = max(16, round(math.sqrt(area * value) / 16) * 16)
    h = max(16, round(math.sqrt(area / value) / 16) * 16)
    return w, h


def tier_for(long_side: int, tiers: tuple[str, ...]) -> str | None:
    """The smallest tier whose long side is >= ``long_side``, else the largest; None when there are no tiers."""
    known = sorted((t for t in tiers if t in TIER_LONG_SIDE), key=TIER_LONG_SIDE.__getitem__)
    if not known:
        return None
    return next((t for t in known if TIER_LONG_SIDE[t] >= long_side), known[-1])


def nearest_tier(resolution: str, tiers: tuple[str, ...]) -> str | None:
    """The supported tier nearest to ``resolution`` (log scale; ties go to the larger tier)."""
    known = [t for t in tiers if t in TIER_LONG_SIDE]
    if not known:
        return None
    want = math.log(TIER_LONG_SIDE[resolution])
    return min(known, key=lambda t: (abs(math.log(TIER_LONG_SIDE[t]) - want), -TIER_LONG_SIDE[t]))


def nearest_ratio(value: float, ratios: tuple[str, ...]) -> str | None:
    """The supported ratio nearest to ``value`` (= width / height) in log space; ties go to the first listed."""
    parsed = [(r, _ratio_value(r)) for r in ratios]
    usable = [(r, v) for r, v in parsed if v is not None]
    if not usable:
        return None
    want = math.log(value)
    return min(usable, key=lambda rv: abs(math.log(rv[1]) - want))[0]


def map_size(request: ImageRequest, caps: OfferCapabilities) -> RenderSpec:
    """What ``caps`` should render for ``request``. Raises ``InvalidRequest`` for impossible values."""
    tiers = tuple(t for t in caps.resolutions if t in TIER_LONG_SIDE)
    asked_tier = _asked_resolution(request.resolution)
    explicit_ratio = _asked_aspect_ratio(request.aspect_ratio)
    wh, size_ratio = _parse_size(request.size, caps)
    ratio = explicit_ratio if explicit_ratio is not None else size_ratio
    if explicit_ratio is not None:
        _check_extreme(explicit_ratio, caps, "aspect_ratio", request.aspect_ratio or "")
    elif size_ratio is not None:
        _check_extreme(size_ratio, caps, "size", request.size or "")
    exact_sizes = _exact_sizes(caps)
    if exact_sizes:
        return _map_exact(request, caps, exact_sizes, wh, ratio, asked_tier, explicit_ratio is not None)

    chosen_ratio = nearest_ratio(ratio, caps.aspect_ratios) if ratio is not None else None
    if asked_tier is not None:
        tier = nearest_tier(asked_tier, tiers)
    elif wh is not None:
        tier = tier_for(max(wh), tiers)
    else:
        tier = None
    if wh is not None and explicit_ratio is None and asked_tier is None:
        return RenderSpec(aspect_ratio=chosen_ratio, resolution=tier, width=wh[0], height=wh[1], exact_size=True)
    width, height = pixel_size(chosen_ratio, tier or (tiers[0] if tiers else None))
    return RenderSpec(aspect_ratio=chosen_ratio, resolution=tier, width=width, height=height)


class SizeMap:
    """``map_size`` with memory, for the request path: a result per (offer capabilities, ``size``,
    ``aspect_ratio``, ``resolution``), the only request fields the mapping reads. ~30 us per offer becomes a
    dictionary look-up, four times per Nano Banana Pro request. Keyed by the capabilities' identity (catalog
    records live as long as the gateway), kept alongside so an id is never reused; cleared when full.
    Invalid values are not remembered: they raise every time."""

    def __init__(self, max_entries: int = 4096) -> None:
        self._max = max_entries
        self._memo: dict[tuple[int, str | None, str | None, str | None], tuple[OfferCapabilities, RenderSpec]] = {}

    def __call__(self, request: ImageRequest, caps: OfferCapabilities) -> RenderSpec:
        key = (id(caps), request.size, request.aspect_ratio, request.resolution)
        hit = self._memo.get(key)
        if hit is not None and hit[0] is caps:
            return hit[1]
        spec = map_size(request, caps)
        if len(self._memo) >= self._max:
            self._memo.clear()
        self._memo[key] = (caps, spec)
        return spec


# --------------------------------------------------------------------------- offers with exact sizes


def _exact_sizes(caps: OfferCapabilities) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in caps.sizes:
        m = _WXH.match(s)
        if m:
            out.append((int(m.group(1)), int(m.group(2))))
    return out


def _map_exact(
    request: ImageRequest,
    caps: OfferCapabilities,
    sizes: list[tuple[int, int]],
    wh: tuple[int, int] | None,
    ratio: float | None,
    asked_tier: str | None,
    ratio_overridden: bool,
) -> RenderSpec:
    if wh is not None and wh in sizes and not ratio_overridden and asked_tier is None:
        chosen = wh
    else:
        want_ratio = ratio if ratio is not None else 1.0
        if asked_tier is not None:
            area = float(TIER_LONG_SIDE[asked_tier] ** 2)
        elif wh is not None:
            area = float(wh[0] * wh[1])
        else:
            tiers = tuple(t for t in caps.resolutions if t in TIER_LONG_SIDE)
            area = float(TIER_LONG_SIDE[tiers[0]] ** 2) if tiers else float(sizes[0][0] * sizes[0][1])
        chosen = min(
            sizes,
            key=lambda s: (
                round(abs(math.log(s[0] / s[1]) - math.log(want_ratio)), 9),
                abs(math.log(s[0] * s[1]) - math.log(area)),
            ),
        )
    auto = _is_auto(request.size) and request.aspect_ratio in (None, "auto") and asked_tier is None
    if auto and "auto" in caps.sizes:
        return RenderSpec(aspect_ratio=None, resolution=None, width=chosen[0], height=chosen[1])
    tiers = tuple(t for t in caps.resolutions if t in TIER_LONG_SIDE)
    return RenderSpec(
        aspect_ratio=_reduce(*chosen),
        resolution=tier_for(max(chosen), tiers),
        width=chosen[0],
        height=chosen[1],
        exact_size=wh is not None,
    )


# --------------------------------------------------------------------------- parsing and errors


def _is_auto(value: str | None) -> bool:
    return value is None or value.strip().lower() == "auto"


def _asked_resolution(value: str | None) -> str | None:
    if _is_auto(value):
        return None
    assert value is not None
    normal = value.strip().upper()
    if normal not in TIER_LONG_SIDE:
        raise InvalidRequest(
            f"Invalid value for 'resolution': {value!r}. Supported values are: 'auto', "
            + ", ".join(repr(t) for t in TIER_LONG_SIDE)
            + ".",
            param="resolution",
        )
    return normal


def _asked_aspect_ratio(value: str | None) -> float | None:
    if _is_auto(value):
        return None
    assert value is not None
    return _parse_ratio(value, "aspect_ratio")


def _parse_size(value: str | None, caps: OfferCapabilities) -> tuple[tuple[int, int] | None, float | None]:
    """``(W, H) or None, W/H or None`` from ``size``; raises ``InvalidRequest`` naming the supported values."""
    if _is_auto(value):
        return None, None
    assert value is not None
    m = _WXH.match(value)
    if m:
        w, h = int(m.group(1)), int(m.group(2))
        if w <= 0 or h <= 0:
            raise _size_error(value, caps, "width and height must be positive")
        if w > MAX_SIDE or h > MAX_SIDE:
            raise _size_error(value, caps, f"width and height must be at most {MAX_SIDE} pixels")
        if w < caps.min_side or h < caps.min_side:
            raise _size_error(value, caps, f"width and height must be at least {caps.min_side} pixels")
        return (w, h), w / h
    if _RATIO.match(value):
        return None, _parse_ratio(value, "size", caps)
    raise _size_error(value, caps, "expected 'auto', 'WxH' (pixels) or 'W:H' (aspect ratio)")


def _ratio_value(text: str) -> float | None:
    m = _RATIO.match(text)
    if not m:
        return None
    w, h = float(m.group(1)), float(m.group(2))
    if w <= 0 or h <= 0 or not math.isfinite(w / h):
        return None
    return w / h


def _parse_ratio(text: str, param: str, caps: OfferCapabilities | None = None) -> float:
    value = _ratio_value(text)
    if value is None:
        why = "expected 'W:H' with positive numbers, such as '16:9'"
        if param == "size" and caps is not None:
            raise _size_error(text, caps, why)
        raise InvalidRequest(f"Invalid value for '{param}': {text!r}: {why}.", param=param)
    return value


def _check_extreme(value: float, caps: OfferCapabilities, param: str, text: str) -> None:
    supported = [v for v in (_ratio_value(r) for r in caps.aspect_ratios) if v is not None]
    supported += [w / h for w, h in _exact_sizes(caps)]
    limit = max([MAX_EXTREME_RATIO, *(max(v, 1 / v) for v in supported)])
    if max(value, 1 / value) > limit * (1 + 1e-9):
        why = f"the aspect ratio is more extreme than 1:{limit:g}"
        if param == "size":
            raise _size_error(text, caps, why)
        raise InvalidRequest(
            f"Invalid value for 'aspect_ratio': {text!r}: {why}. {supported_values(caps)}", param="aspect_ratio"
        )


def supported_values(caps: OfferCapabilities) -> str:
    """One sentence naming what the offer renders (used in error messages)."""
    sizes = [s for s in caps.sizes if s != "auto"]
    if sizes:
        return f"Supported sizes: {', '.join([*sizes, 'auto'])}."
    ratios = ", ".join(caps.aspect_ratios) or "provider default"
    tiers = ", ".join(t for t in caps.resolutions if t in TIER_LONG_SIDE) or "provider default"
    return f"Supported aspect ratios: {ratios}; resolutions: {tiers}; or size 'auto'."


def _size_error(value: str, caps: OfferCapabilities, why: str) -> InvalidRequest:
    shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "..."
    return InvalidRequest(f"Invalid value for 'size': {shown}: {why}. {supported_values(caps)}", param="size")


def _reduce(w: int, h: int) -> str:
    g = math.gcd(w, h)
    return f"{w // g}:{h // g}"
