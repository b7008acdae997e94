"""Settings of the ``local`` provider: which diffusers pipelines to load, where from, on which device, at what cost.

In the gateway's YAML config::

    local:
      models:
        flux.1-schnell:                     # a catalog model id with a ``local`` offer
          pipeline: FluxPipeline            # a diffusers pipeline class
          path: /models/FLUX.1-schnell      # a directory (or a hub id already in the local cache)
          dtype: bfloat16
          device: cuda                      # cuda, cuda:1, cpu
          steps: 4
          guidance: 0.0
          usd_per_gpu_second: 0.0
          max_batch: 4                      # images of equal parameters rendered together
          max_queue: 16                     # images waiting; a full queue fails over to a hosted offer

Nothing is downloaded: pipelines load with ``local_files_only=True``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Dtype = Literal["float32", "float16", "bfloat16"]


class LocalModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    pipeline: str = Field(min_length=1, description="diffusers pipeline class, e.g. FluxPipeline")
    path: str = Field(min_length=1, description="model directory, or a hub id present in the local cache")
    dtype: Dtype = "float32"
    device: str = Field(default="cpu", pattern=r"^(cpu|cuda(:\d+)?|mps)$")
    steps: int = Field(default=4, ge=1, le=200)
    guidance: float | None = Field(default=None, ge=0)
    usd_per_gpu_second: float = Field(default=0.0, ge=0)
    max_batch: int = Field(default=4, ge=1, le=64)
    max_queue: int = Field(default=16, ge=1, le=10_000)
    expected_s_per_image: float = Field(default=2.0, gt=0, description="cold estimate until a batch has run")


class LocalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    models: dict[str, LocalModelConfig] = {}


class LocalConfigError(ValueError):
    pass


def parse_local_config(data: object) -> LocalConfig:
    """Validate the ``local`` setting; errors name the key (``local.models.X.steps``) and what was expected."""
    try:
        return LocalConfig.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(
            f"local.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors(include_url=False)
        )
        raise LocalConfigError(problems) from None
