"""docs/sizes.md's table is generated from ``map_size`` and the packaged catalog: this test fails when they drift.

Regenerate with ``IMAGEGATE_UPDATE_DOCS=1 pytest tests/test_media_sizes_doc.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

from imagegate.catalog import load_catalog
from imagegate.catalog.schema import OfferCapabilities
from imagegate.core.types import ImageRequest, RenderSpec
from imagegate.media.sizes import map_size, pixel_size

DOC = Path(__file__).resolve().parents[1] / "docs" / "sizes.md"
BEGIN = "<!-- BEGIN GENERATED: tests/test_media_sizes_doc.py -->"
END = "<!-- END GENERATED -->"

ROWS: list[dict[str, str]] = [
    {"size": "1024x1024"},
    {"size": "1536x1024"},
    {"size": "1024x1536"},
    {"size": "1792x1024"},
    {"size": "1024x1792"},
    {"size": "512x512"},
    {"size": "256x256"},
    {"size": "2048x2048"},
    {"size": "3840x2160"},
    {"size": "16:9"},
    {"size": "4:5"},
    {"aspect_ratio": "9:16"},
    {"aspect_ratio": "21:9", "resolution": "4K"},
    {"resolution": "2K"},
    {"resolution": "0.5K"},
    {"size": "auto"},
    {},
]


def _label(fields: dict[str, str]) -> str:
    return " ".join(f"`{k}={v}`" for k, v in fields.items()) or "(nothing)"


def _ratio_cell(spec: RenderSpec, caps: OfferCapabilities) -> str:
    ratio = spec.aspect_ratio or "default"
    tier = spec.resolution or "default"
    w, h = pixel_size(spec.aspect_ratio, spec.resolution or caps.resolutions[0])
    return f"{ratio} · {tier} → {w}x{h}"


def _size_cell(spec: RenderSpec) -> str:
    if spec.aspect_ratio is None and spec.resolution is None:
        return "auto"
    return f"{spec.width}x{spec.height}"


def generate_table() -> str:
    catalog = load_catalog()
    pro = catalog.get("gemini-3-pro-image-preview")
    flash = catalog.get("gemini-2.5-flash-image")
    gpt = catalog.get("gpt-image-1")
    assert pro is not None and flash is not None and gpt is not None
    pro_caps = pro.offers[0].capabilities
    flash_caps = flash.offers[0].capabilities
    gpt_caps = gpt.offers[0].capabilities
    # Every Nano Banana Pro offer (Gemini, Vertex, Replicate, fal) renders the same ratios and tiers.
    assert all(o.capabilities.aspect_ratios == pro_caps.aspect_ratios for o in pro.offers)
    assert all(o.capabilities.resolutions == pro_caps.resolutions for o in pro.offers)
    lines = [
        "| request | Nano Banana Pro: Gemini / Vertex / Replicate / fal (ratio · tier → pixels back) "
        "| Nano Banana (1K only) | GPT Image 1 (size sent) |",
        "|---|---|---|---|",
    ]
    for fields in ROWS:
        req = ImageRequest(operation="generate", model="m", prompt="p", **fields)
        cells = [
            _ratio_cell(map_size(req, pro_caps), pro_caps),
            _ratio_cell(map_size(req, flash_caps), flash_caps),
            _size_cell(map_size(req, gpt_caps)),
        ]
        lines.append(f"| {_label(fields)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_sizes_doc_matches_the_code() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    fresh = f"{head}{BEGIN}\n{generate_table()}\n{END}{tail}"
    if os.environ.get("IMAGEGATE_UPDATE_DOCS") == "1":
        DOC.write_text(fresh, encoding="utf-8")
        return
    assert text == fresh, "docs/sizes.md is stale: run IMAGEGATE_UPDATE_DOCS=1 pytest tests/test_media_sizes_doc.py"
