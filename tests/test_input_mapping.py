"""``providers.input_mapping`` and the catalog fields of issue 16: mapping rules, limits, strictness, shared aliases,
unknown prices, the megapixel metric."""

from __future__ import annotations

from pathlib import Path

import pytest

from imagegate.catalog import CatalogError, load_catalog
from imagegate.catalog.schema import Offer
from imagegate.core.errors import InvalidRequest, ModelNotFound
from imagegate.core.types import ImageRequest, ProviderPreferences, RenderSpec, Usage, billed_megapixels
from imagegate.media.sizes import map_size
from imagegate.pricing import cost
from imagegate.pricing.pricer import UNKNOWN_PRICE_MICROS, Pricer, candidate_micros
from imagegate.providers.input_mapping import build_input, check_params, endpoint
from imagegate.router.ordering import filter_candidates
from imagegate.router.types import Candidate

CATALOG = load_catalog()


def offer(model: str, provider: str) -> Offer:
    found = CATALOG.get(model).offer(provider)
    assert found is not None
    return found


def req(**kw) -> ImageRequest:
    return ImageRequest(operation=kw.pop("operation", "generate"), model="m", prompt="p", **kw)


def body_of(o: Offer, request: ImageRequest, refs: list[str] | None = None) -> tuple[dict, list[str]]:
    return build_input(request, o, map_size(request, o.capabilities), request.n, refs or [])


def test_image_size_enum_object_and_large_tiers() -> None:
    o = offer("flux-1-dev", "fal")
    assert body_of(o, req(aspect_ratio="9:16"))[0]["image_size"] == "portrait_16_9"
    assert body_of(o, req(size="1280x720"))[0]["image_size"] == {"width": 1280, "height": 720}  # exact size
    assert body_of(o, req(aspect_ratio="21:9"))[0]["image_size"]["width"] > 0  # no enum value: an object
    assert body_of(o, req(aspect_ratio="1:1", resolution="2K"))[0]["image_size"] == {"width": 2048, "height": 2048}
    assert "image_size" not in body_of(o, req())[0]  # nothing asked: the model's default


def test_seedream_max_pixels_scales_an_object_down() -> None:
    o = offer("seedream-4.0", "fal")
    spec = RenderSpec(aspect_ratio="1:1", resolution="4K", width=8192, height=8192, exact_size=True)
    body, _ = build_input(req(), o, spec, 1, [])
    assert body["image_size"]["width"] * body["image_size"]["height"] <= 16_777_216


def test_values_formats_and_params() -> None:
    o = offer("flux-1-schnell", "replicate")
    body, notes = body_of(o, req(n=3, output_format="jpeg", seed=5, extra={"go_fast": "false"}))
    assert body["num_outputs"] == 3 and body["output_format"] == "jpg" and body["seed"] == 5
    assert body["go_fast"] is False and notes == []


def test_unknown_parameters_are_dropped_with_a_note() -> None:
    o = offer("recraft-v3", "fal")
    body, notes = body_of(
        o, req(seed=1, quality="high", style="vivid", extra={"negative_prompt": "x", "strict_params": False})
    )
    assert "seed" not in body and "negative_prompt" not in body
    assert [n.split("'")[1] for n in notes] == ["seed", "quality", "style", "negative_prompt"]
    assert body_of(o, req(quality="auto"))[1] == []  # auto is no request at all


def test_check_params_limits_types_choices_and_strictness() -> None:
    o = offer("flux-1-dev", "fal")
    check_params(req(extra={"guidance_scale": 3.5, "num_inference_steps": 28}), o)
    for extra, param in [
        ({"guidance_scale": 50}, "guidance_scale"),
        ({"num_inference_steps": "many"}, "num_inference_steps"),
        ({"num_inference_steps": 2.5}, "num_inference_steps"),
    ]:
        with pytest.raises(InvalidRequest) as info:
            check_params(req(extra=extra), o)
        assert info.value.param == param
    with pytest.raises(InvalidRequest) as info:
        check_params(req(extra={"safety_tolerance": "9"}), offer("flux-1.1-pro", "fal"))
    assert "Supported values" in info.value.message
    check_params(req(extra={"negative_prompt": "x"}), o)  # not strict: dropped later, not refused
    with pytest.raises(InvalidRequest) as info:
        check_params(req(extra={"negative_prompt": "x", "strict_params": "true"}), o)
    assert info.value.param == "negative_prompt"
    check_params(req(extra={"anything": 1, "strict_params": True}), offer("gpt-image-1", "openai"))  # no mapping


def test_endpoints_per_operation() -> None:
    o = offer("flux-kontext-pro", "fal")
    assert endpoint(o, "generate") == "fal-ai/flux-pro/kontext/text-to-image"
    assert endpoint(o, "edit") == "fal-ai/flux-pro/kontext"
    body, _ = body_of(o, req(operation="edit"), ["data:image/png;base64,AAAA"])
    assert body["image_url"] == "data:image/png;base64,AAAA" and "aspect_ratio" not in body


def test_edit_ratio_on_replicate() -> None:
    o = offer("flux-kontext-max", "replicate")
    body, _ = body_of(o, req(operation="edit"), ["data:x"])
    assert body["aspect_ratio"] == "match_input_image" and body["input_image"] == "data:x"


def test_megapixel_pricing() -> None:
    assert billed_megapixels(1024, 1024) == 1 and billed_megapixels(1025, 1024) == 2
    assert billed_megapixels(2048, 2048) == 4 and billed_megapixels(0, 0) == 1
    o = offer("flux-2-pro", "fal")
    priced = cost(Usage(output_images=2, output_megapixels=5), o, resolution=None)
    assert priced.total_micros == 2 * 15_000 + 5 * 15_000
    assert {c.metric for c in priced.components} == {"image", "megapixel"}


def test_unknown_price_orders_last_and_is_refused_empty_otherwise(tmp_path: Path) -> None:
    o = offer("flux-2-pro", "replicate")
    request = req()
    spec = map_size(request, o.capabilities)
    assert o.price_unknown and candidate_micros(Pricer(), request, o, spec) == UNKNOWN_PRICE_MICROS
    priced = offer("flux-1-dev", "fal")
    assert candidate_micros(Pricer(), request, priced, map_size(request, priced.capabilities)) == 25_000
    bad = tmp_path / "bad.yaml"
    bad.write_text("""models:
  - id: acme-x
    name: X
    creator: Acme
    offers:
      - provider: fal
        provider_name: fal.ai
        provider_model_id: acme/x
        config_key: fal/acme-x
        pricing: {source_url: "https://example.com", effective_at: 2026-01-01, components: []}
""")
    with pytest.raises(CatalogError, match="price_unknown"):
        load_catalog([bad])


def test_shared_aliases(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest) as info:
        CATALOG.resolve("imagen")
    assert info.value.code == "AMBIGUOUS_MODEL"
    assert all(m in info.value.message for m in ("imagen-4.0-fast-generate-001", "imagen-4.0-ultra-generate-001"))
    assert [m.id for m in CATALOG.candidates("flux-pro")] == ["flux-1.1-pro", "flux-2-pro"]
    with pytest.raises(ModelNotFound):
        CATALOG.resolve("flux-nothing")
    one = tmp_path / "one.yaml"  # a shared alias a single model claims resolves to it
    one.write_text("""models:
  - id: acme-y
    name: Y
    creator: Acme
    shared_aliases: [acme-family]
    offers:
      - provider: fal
        provider_name: fal.ai
        provider_model_id: acme/y
        config_key: fal/acme-y
        pricing: {source_url: "https://example.com", effective_at: 2026-01-01,
                  components: [{type: output, metric: image, unit_price: 0.01}]}
""")
    assert load_catalog([one]).resolve("acme-family")[0].id == "acme-y"
    clash = tmp_path / "clash.yaml"
    clash.write_text(one.read_text().replace("acme-y", "acme-z").replace("[acme-family]", "[flux-dev]"))
    with pytest.raises(CatalogError, match="shared alias 'flux-dev'"):
        load_catalog([clash])


def test_max_price_with_only_unpriced_offers_says_so() -> None:
    o = offer("qwen-image", "fal")
    with pytest.raises(InvalidRequest, match="no offer of this model has a published price"):
        filter_candidates(
            [Candidate(offer=o, estimated_cost_micros=UNKNOWN_PRICE_MICROS)], ProviderPreferences(max_price=1.0), None
        )
