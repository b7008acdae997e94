"""A catalog file for the local provider's tests: a tiny model served locally and (for failover) by fal's fake."""

from __future__ import annotations

from pathlib import Path

TINY_MODEL = "tiny-sd"

CATALOG = """
models:
  - id: tiny-sd
    name: Tiny SD (test)
    creator: imagegate
    tasks: [text-to-image, image-editing]
    offers:
      - provider: local
        provider_name: This machine
        provider_model_id: tiny-sd
        config_key: local/tiny-sd
        pricing:
          source: config
          source_url: https://github.com/huggingface/diffusers
          effective_at: 2026-12-01
          components:
            - {type: output, metric: gpu_ms, unit_size: 1000, unit_price: 0}
        capabilities:
          max_input_images: 1
          resolutions: [1K]
          aspect_ratios: ["1:1"]
          sizes: [64x64]
          output_formats: [png]
          max_n: 4
          supports_edit: true
          supports_mask: true
      - provider: fal
        provider_name: fal.ai
        provider_model_id: fal-ai/gemini-3-pro-image-preview
        config_key: fal/tiny-sd
        pricing:
          source: official
          source_url: https://fal.ai/models/fal-ai/gemini-3-pro-image-preview
          effective_at: 2026-01-26
          components:
            - {type: output, metric: image, unit_price: 0.15}
        capabilities:
          max_input_images: 2
          resolutions: [1K]
          aspect_ratios: ["1:1"]
          output_formats: [png]
          supports_edit: true
"""


def write_catalog(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "tiny-sd.yaml").write_text(CATALOG, encoding="utf-8")
    return directory


def local_settings(model_dir: Path, **overrides: object) -> dict[str, object]:
    cfg: dict[str, object] = {
        "pipeline": "StableDiffusionPipeline",
        "path": str(model_dir),
        "steps": 2,
        "max_batch": 4,
        "max_queue": 8,
        "expected_s_per_image": 0.5,
    }
    cfg.update(overrides)
    return {"models": {TINY_MODEL: cfg}}
