"""The catalog loader: packaged data, name resolution, refusal of invalid or colliding files."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from imagegate.catalog import Catalog, CatalogError, load_catalog
from imagegate.core.errors import ModelNotFound
from imagegate.core.types import Usage
from imagegate.pricing import cost

RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def model_yaml(model_id: str, *, aliases: str = "[]", provider: str = "acme", unit_price: str = "0.01") -> str:
    return f"""\
    models:
      - id: {model_id}
        name: Test {model_id}
        creator: Acme
        aliases: {aliases}
        offers:
          - provider: {provider}
            provider_name: Acme Cloud
            provider_model_id: {model_id}
            config_key: {provider}/{model_id}
            pricing:
              source_url: https://acme.example/pricing
              effective_at: 2025-01-01
              components:
                - {{type: output, metric: image, unit_price: 0.02}}
                - {{type: output, metric: image, unit_price: {unit_price}, conditions: {{resolution: 2K}}}}
    """


# --------------------------------------------------------------------------- the packaged seed model


def test_seed_model_record(catalog: Catalog) -> None:
    m = catalog.get("gemini-3-pro-image-preview")
    assert m is not None
    assert m.name == "Nano Banana Pro"
    assert m.description.startswith("Gemini 3 Pro with image generation capabilities.")
    assert m.creator == "Google"
    assert m.family == "gemini-3"
    assert m.status == "active"
    assert m.released == dt.date(2025, 11, 20)
    assert m.aliases == ("gemini-3-pro-image", "nano-banana-pro")
    assert m.alternative_names == ("Nano Banana Pro",)
    assert m.tags == ("multimodal", "reasoning", "image-generation", "long-context")
    assert m.capabilities == (
        "function_calling",
        "structured_output",
        "batch",
        "streaming",
        "system_prompt",
        "tool_use",
        "grounding",
        "thinking",
        "code_execution",
        "json_mode",
    )
    spec = m.specifications
    assert (spec.context_window, spec.max_input_images, spec.max_output_tokens) == (1048576, 900, 65536)
    assert spec.input_modalities == ("text", "image", "audio", "video", "file")
    assert spec.output_modalities == ("text", "image")
    assert m.tasks == ("text-to-image", "image-editing")
    assert m.example_prompt is not None
    assert '"LOVELY STORIES FOUND HERE"' in m.example_prompt and m.example_prompt.endswith("tiny newspaper.")
    assert [o.provider for o in m.offers] == ["gemini", "vertex", "replicate", "fal"]


def test_seed_google_offers(catalog: Catalog) -> None:
    m = catalog.get("gemini-3-pro-image-preview")
    assert m is not None
    for provider, name, url in (
        ("gemini", "Gemini API", "https://ai.google.dev/gemini-api/docs/pricing#gemini-3-pro-image-preview"),
        ("vertex", "Vertex AI", "https://cloud.google.com/vertex-ai/generative-ai/pricing"),
    ):
        o = m.offer(provider)
        assert o is not None
        assert o.provider_name == name
        assert o.config_key == f"{provider}/gemini-3-pro-image-preview"
        assert o.provider_model_id == "gemini-3-pro-image-preview"
        assert o.regions == ("global",)
        p = o.pricing
        assert (p.currency, p.source, p.source_url, p.effective_at) == ("USD", "official", url, dt.date(2025, 11, 18))
        assert p.notes == (
            "$0.0011 per input image (560 tokens)",
            "$0.134 per output image from 1024x1024px (1K) and up to 2048x2048px (2K) (1120 tokens)",
            "$0.24 per output image up to 4096x4096px (4K) (2000 tokens)",
        )
        comps = [
            (
                c.type,
                c.metric,
                c.unit_size,
                c.unit_price,
                c.conditions.cached,
                c.conditions.batch,
                c.conditions.resolution,
            )
            for c in p.components
        ]
        assert comps == [
            ("input", "token", 1_000_000, 2, None, None, None),
            ("input", "token", 1_000_000, 0.2, True, None, None),
            ("output", "token_text", 1_000_000, 12, None, None, None),
            ("output", "token_image", 1_000_000, 120, None, None, None),
            ("input", "token", 1_000_000, 1, None, True, None),
            ("output", "token", 1_000_000, 6, None, True, None),
            ("output", "image", 1, 0.067, None, True, "1K/2K"),
            ("output", "image", 1, 0.12, None, True, "4K"),
        ]
        caps = o.capabilities
        assert caps.aspect_ratios == RATIOS
        assert caps.resolutions == ("1K", "2K", "4K")
        assert (caps.max_input_images, caps.max_n, caps.supports_edit) == (14, 1, True)
        assert o.estimate.output_image_tokens == {"1K": 1120, "2K": 1120, "4K": 2000}
        assert o.estimate.input_image_tokens == 560
    assert m.offer("gemini").capabilities.output_formats == ("png",)
    assert m.offer("vertex").capabilities.output_formats == ("png", "jpeg")


def test_seed_replicate_and_fal_offers(catalog: Catalog) -> None:
    m = catalog.get("gemini-3-pro-image-preview")
    assert m is not None
    rep, fal = m.offer("replicate"), m.offer("fal")
    assert rep is not None and fal is not None
    assert (rep.provider_name, rep.provider_model_id, rep.config_key) == (
        "Replicate",
        "google/nano-banana-pro",
        "replicate/gemini-3-pro-image-preview",
    )
    assert (fal.provider_name, fal.provider_model_id, fal.config_key) == (
        "fal.ai",
        "fal-ai/gemini-3-pro-image-preview",
        "fal/gemini-3-pro-image-preview",
    )
    assert rep.pricing.source_url == "https://replicate.com/google/nano-banana-pro"
    assert fal.pricing.source_url == "https://fal.ai/models/fal-ai/gemini-3-pro-image-preview/edit"
    for o in (rep, fal):
        assert o.pricing.effective_at == dt.date(2026, 1, 26)
        assert o.pricing.source == "official" and o.regions == ()
        assert o.capabilities.aspect_ratios == RATIOS and o.capabilities.supports_edit
    assert rep.pricing.notes == (
        "Also known as Nano Banana Pro",
        "$0.15 per image for 1K-2K resolution",
        "$0.30 per image for 4K resolution",
        "Supports up to 14 reference images",
    )
    assert fal.pricing.notes[2] == "$0.30 per image for 4K resolution (2x standard rate)"
    assert [(c.unit_price, c.conditions.resolution) for c in rep.pricing.components] == [
        (0.15, None),
        (0.15, "2K"),
        (0.3, "4K"),
    ]
    assert [(c.unit_price, c.conditions.resolution) for c in fal.pricing.components] == [(0.15, None), (0.3, "4K")]
    assert all((c.type, c.metric) == ("output", "image") for c in (*rep.pricing.components, *fal.pricing.components))
    assert (rep.capabilities.max_input_images, rep.capabilities.max_n) == (14, 1)
    assert rep.capabilities.output_formats == ("png", "jpeg")
    assert (fal.capabilities.max_input_images, fal.capabilities.max_n) == (2, 4)
    assert fal.capabilities.output_formats == ("jpeg", "png", "webp")
    assert fal.options == {"edit_suffix": "/edit"}


def test_other_packaged_models(catalog: Catalog) -> None:
    assert {m.id for m in catalog.models()} >= {"gemini-2.5-flash-image", "gpt-image-1"}
    flash = catalog.get("nano-banana")
    assert flash is not None and [o.provider for o in flash.offers] == ["gemini", "vertex"]
    gpt = catalog.get("gpt-image-1")
    assert gpt is not None
    caps = gpt.offers[0].capabilities
    assert caps.sizes == ("1024x1024", "1536x1024", "1024x1536", "auto")
    assert (caps.max_n, caps.max_input_images, caps.supports_mask) == (10, 16, True)
    assert gpt.offers[0].estimate.output_image_tokens["high:1536x1024"] == 6240


# --------------------------------------------------------------------------- resolution of names


def test_get_by_id_or_alias_case_insensitive(catalog: Catalog) -> None:
    seed = catalog.get("gemini-3-pro-image-preview")
    assert catalog.get("NANO-BANANA-PRO") is seed
    assert catalog.get("Gemini-3-Pro-Image") is seed
    assert catalog.get("nano-banana-pro-2") is None
    assert "nano-banana-pro" in catalog and len(catalog) == len(catalog.models())


@pytest.mark.parametrize(
    ("name", "provider"),
    [
        ("gemini-3-pro-image-preview", None),
        ("nano-banana-pro", None),
        ("vertex/gemini-3-pro-image", "vertex"),
        ("fal/nano-banana-pro", "fal"),
        ("Replicate/gemini-3-pro-image-preview", "replicate"),
        ("gemini/nano-banana-pro", "gemini"),
        ("placeholder/nano-banana-pro", "placeholder"),
    ],
)
def test_resolve(catalog: Catalog, name: str, provider: str | None) -> None:
    model, forced = catalog.resolve(name)
    assert model.id == "gemini-3-pro-image-preview"
    assert forced == provider


@pytest.mark.parametrize("name", ["x", "openai/nano-banana-pro", "fal/", "/nano-banana-pro", "fal/x"])
def test_resolve_unknown(catalog: Catalog, name: str) -> None:
    with pytest.raises(ModelNotFound) as info:
        catalog.resolve(name)
    assert info.value.message == f"Model '{name}' not found"
    assert info.value.status == 404 and info.value.param == "model"


def test_model_id_with_slash_resolves(tmp_path: Path) -> None:
    write(tmp_path, "acme.yaml", model_yaml("acme/pixel-1"))
    cat = load_catalog([tmp_path])
    model, forced = cat.resolve("acme/pixel-1")
    assert (model.id, forced) == ("acme/pixel-1", None)
    model, forced = cat.resolve("ACME/acme/pixel-1")
    assert (model.id, forced) == ("acme/pixel-1", "acme")


# --------------------------------------------------------------------------- extra dirs and refusals


def test_extra_dir_adds_models(tmp_path: Path) -> None:
    write(tmp_path / "a", "one.yaml", model_yaml("pixel-1", aliases="[px1]"))
    single = write(tmp_path / "b", "two.yml", model_yaml("pixel-2"))
    cat = load_catalog([tmp_path / "a", single])
    assert cat.get("px1").id == "pixel-1"
    assert cat.get("pixel-2") is not None
    assert cat.get("nano-banana-pro") is not None  # packaged models stay


def test_invalid_file_names_file_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", model_yaml("pixel-1", unit_price="-1"))
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    msg = str(info.value)
    assert msg.startswith(f"{path}: ")
    assert "models[0].offers[0].pricing.components[1].unit_price: Input should be greater than or equal to 0" in msg


def test_missing_required_field_named(tmp_path: Path) -> None:
    write(tmp_path, "nocreator.yaml", model_yaml("pixel-1").replace("        creator: Acme\n", ""))
    with pytest.raises(CatalogError, match=r"nocreator\.yaml: models\[0\]\.creator: Field required"):
        load_catalog([tmp_path])


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "syntax.yaml", "models:\n  - id: [unclosed\n")
    with pytest.raises(CatalogError, match=r"syntax\.yaml: .*line \d+"):
        load_catalog([tmp_path])


def test_not_a_mapping(tmp_path: Path) -> None:
    write(tmp_path, "list.yaml", "- 1\n- 2\n")
    with pytest.raises(CatalogError, match=r"list\.yaml: \(root\): "):
        load_catalog([tmp_path])


def test_duplicate_alias_across_files_names_both(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", model_yaml("pixel-1", aliases="[shared-name]"))
    write(tmp_path, "b.yaml", model_yaml("pixel-2", aliases="[Shared-Name]"))
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    msg = str(info.value)
    assert str(tmp_path / "a.yaml") in msg and str(tmp_path / "b.yaml") in msg
    assert "alias 'shared-name'" in msg and "'pixel-1'" in msg


def test_alias_colliding_with_packaged_model(tmp_path: Path) -> None:
    write(tmp_path, "clash.yaml", model_yaml("pixel-1", aliases="[nano-banana-pro]"))
    with pytest.raises(CatalogError) as info:
        load_catalog([tmp_path])
    msg = str(info.value)
    assert "clash.yaml: model 'pixel-1': alias 'nano-banana-pro'" in msg
    assert "model 'gemini-3-pro-image-preview' in " in msg and msg.endswith("gemini-3-pro-image-preview.yaml")


def test_duplicate_id_refused(tmp_path: Path) -> None:
    write(tmp_path, "dup.yaml", model_yaml("gpt-image-1"))
    with pytest.raises(CatalogError, match=r"dup\.yaml: model 'gpt-image-1': id 'gpt-image-1' is already used"):
        load_catalog([tmp_path])


def test_two_offers_from_one_provider_refused(tmp_path: Path) -> None:
    text = model_yaml("pixel-1")
    offer = text[text.index("      - provider:") :]
    write(tmp_path, "twice.yaml", text + offer)
    with pytest.raises(CatalogError, match=r"offers\[1\]\.provider: a second offer from 'acme'"):
        load_catalog([tmp_path])


def test_missing_extra_dir(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="catalog directory not found"):
        load_catalog([tmp_path / "nope"])


# --------------------------------------------------------------------------- placeholder offer


def test_placeholder_offer_is_union_and_free(catalog: Catalog) -> None:
    model = catalog.get("nano-banana-pro")
    assert model is not None
    offer = catalog.placeholder_offer(model)
    assert offer is catalog.placeholder_offer(model)
    assert (offer.provider, offer.provider_name) == ("placeholder", "Placeholder (offline)")
    assert offer.config_key == "placeholder/gemini-3-pro-image-preview"
    assert offer.pricing.source_url == "https://github.com/imagegate/imagegate"
    caps = offer.capabilities
    assert caps.output_formats == ("png", "jpeg", "webp")
    assert (caps.max_n, caps.max_input_images, caps.supports_edit) == (4, 14, True)
    assert caps.resolutions == ("1K", "2K", "4K") and caps.aspect_ratios == RATIOS
    assert cost(Usage(output_images=3, reported=True), offer, resolution="4K").total_micros == 0
    gpt = catalog.placeholder_offer(catalog.get("gpt-image-1"))
    assert gpt.capabilities.supports_mask and "1536x1024" in gpt.capabilities.sizes
