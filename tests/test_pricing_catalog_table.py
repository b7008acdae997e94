"""docs/pricing.md's table of published figures against the dry run (one image at 1K and at the largest size)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from imagegate.catalog import load_catalog
from imagegate.core.types import ImageRequest
from imagegate.media.sizes import map_size
from imagegate.pricing import Pricer, dry_run_body

DOC = Path(__file__).resolve().parents[1] / "docs" / "pricing.md"
CATALOG = load_catalog()


def rows() -> list[list[str]]:
    text = DOC.read_text().split("## Published figures the dry run reproduces", 1)[1]
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"\d+(\.\d+)?", cells[5]):
            out.append(cells)
    return out


def test_the_table_is_there_and_covers_every_new_priced_model() -> None:
    table = rows()
    assert len(table) >= 25
    priced = {  # local offers are priced by the gateway's config, not by a published figure
        m.id for m in CATALOG.models() if any(not o.price_unknown and o.pricing.source != "config" for o in m.offers)
    }
    seed = {"gemini-2.5-flash-image", "gemini-3-pro-image-preview", "gpt-image-1"}  # worked examples above
    assert priced - seed <= {r[0] for r in table}


@pytest.mark.parametrize("row", rows(), ids=lambda r: f"{r[0]}-{r[1]}-{r[3]}-{r[4] or 'any'}")
def test_dry_run_equals_the_published_figure(row: list[str]) -> None:
    model_id, provider, _case, size, quality, published, _source = row
    model = CATALOG.get(model_id)
    assert model is not None
    offer = model.offer(provider)
    assert offer is not None and not offer.price_unknown
    request = ImageRequest(operation="generate", model=model_id, prompt="x", size=size, quality=quality or None)
    spec = map_size(request, offer.capabilities)
    assert f"{spec.width}x{spec.height}" == size  # priced at exactly this size
    body = dry_run_body(model.id, offer, Pricer().estimate(request, offer, spec))
    usd = Decimal(body["total_cost_micros"]) / Decimal(1_000_000)
    places = Decimal(1).scaleb(-len(published.split(".")[1])) if "." in published else Decimal(1)
    assert usd.quantize(places, rounding=ROUND_HALF_UP) == Decimal(published)
