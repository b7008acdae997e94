"""One diffusers pipeline, loaded from the local disk, and how a batch of jobs runs on it.

Imports torch and diffusers lazily: without the ``local`` extra the gateway still starts (the provider says why its
offers are inactive). Runs in the worker's thread (``worker.py``), never on the event loop.
"""

from __future__ import annotations

import inspect
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

from imagegate.providers.local.config import LocalModelConfig
from imagegate.providers.local.worker import Cancelled, LocalJob

log = logging.getLogger("imagegate.local")

EXTRA_HINT = "install the extra: pip install 'imagegate[local]'"


class LocalUnavailable(RuntimeError):
    """The extra is not installed, or the model cannot be loaded; the message says which and how to fix it."""


def import_diffusers() -> Any:
    try:
        import diffusers
        import torch  # noqa: F401
    except ImportError as exc:
        raise LocalUnavailable(f"{exc.name or 'diffusers'} is not installed ({EXTRA_HINT})") from None
    return diffusers


@dataclass(frozen=True)
class JobKey:
    """Requests with equal keys share a pipeline call."""

    operation: str
    width: int
    height: int
    steps: int
    guidance: float | None
    unique: int = 0  # edits carry their own input image: never batched (0 for generations)


@dataclass
class StepTimes:
    """Seconds per denoising step of the last batch (``imagegate local check`` prints them)."""

    steps: list[float] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return sum(self.steps) / len(self.steps) if self.steps else 0.0


class PipelineRunner:
    def __init__(self, model_id: str, cfg: LocalModelConfig) -> None:
        self.model_id = model_id
        self.cfg = cfg
        self.pipe: Any = None
        self._img2img: Any = None
        self._inpaint: Any = None
        self.supports_edit = False
        self.supports_mask = False
        self.last_steps = StepTimes()

    # ------------------------------------------------------------------ loading

    def load(self) -> None:
        diffusers = import_diffusers()
        import torch

        cls = getattr(diffusers, self.cfg.pipeline, None)
        if cls is None or not hasattr(cls, "from_pretrained"):
            raise LocalUnavailable(
                f"local.models.{self.model_id}.pipeline: diffusers has no pipeline {self.cfg.pipeline!r}"
            )
        if self.cfg.path.startswith(("/", ".", "~")) and not os.path.isdir(os.path.expanduser(self.cfg.path)):
            raise LocalUnavailable(f"local.models.{self.model_id}.path: {self.cfg.path} is not a directory")
        if self.cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise LocalUnavailable(
                f"local.models.{self.model_id}.device: {self.cfg.device} but torch sees no CUDA device"
            )
        dtype = getattr(torch, self.cfg.dtype)
        try:
            with warnings.catch_warnings():  # newer diffusers renamed torch_dtype; both spellings load
                warnings.simplefilter("ignore", FutureWarning)
                pipe = cls.from_pretrained(os.path.expanduser(self.cfg.path), torch_dtype=dtype, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise LocalUnavailable(
                f"local.models.{self.model_id}.path: cannot load {self.cfg.path} without downloading "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
            ) from None
        pipe = pipe.to(self.cfg.device)
        if hasattr(pipe, "set_progress_bar_config"):
            pipe.set_progress_bar_config(disable=True)
        self.pipe = pipe
        self._img2img = _derive(diffusers.AutoPipelineForImage2Image, pipe)
        self._inpaint = _derive(diffusers.AutoPipelineForInpainting, pipe)
        self.supports_edit = self._img2img is not None
        self.supports_mask = self._inpaint is not None

    # ------------------------------------------------------------------ running

    def run(self, jobs: list[LocalJob]) -> list[list[Any]]:
        """Render every job of one batch (equal keys) in one pipeline call; images per job, in order."""
        import torch

        key: JobKey = jobs[0].key  # type: ignore[assignment]
        pipe = self.pipe
        if key.operation == "edit":
            job = jobs[0]
            pipe = self._inpaint if job.mask is not None and self._inpaint is not None else self._img2img
            if pipe is None:
                raise LocalUnavailable(f"{self.cfg.pipeline} cannot edit images")
        prompts = [job.prompt for job in jobs for _ in range(job.n)]
        generators = [
            torch.Generator(device="cpu").manual_seed((job.seed if job.seed is not None else _random_seed()) + i)
            for job in jobs
            for i in range(job.n)
        ]
        kwargs: dict[str, Any] = {
            "prompt": prompts,
            "num_inference_steps": key.steps,
            "generator": generators,
            "output_type": "pil",
        }
        if key.guidance is not None:
            kwargs["guidance_scale"] = key.guidance
        if key.operation == "edit":
            kwargs["image"] = [jobs[0].image] * len(prompts)
            if jobs[0].mask is not None and pipe is self._inpaint:
                kwargs["mask_image"] = [jobs[0].mask] * len(prompts)
        else:
            kwargs["width"], kwargs["height"] = key.width, key.height
        params = inspect.signature(pipe.__call__).parameters
        times = StepTimes()
        last = [time.perf_counter()]
        stopped = [False]

        def on_step_end(p: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            now = time.perf_counter()
            times.steps.append(now - last[0])
            last[0] = now
            if all(job.cancelled.is_set() for job in jobs):
                p._interrupt = True  # diffusers' pipelines stop denoising between steps when this is set
                stopped[0] = True
            return tensors

        if "callback_on_step_end" in params:
            kwargs["callback_on_step_end"] = on_step_end
        kwargs = {k: v for k, v in kwargs.items() if k in params or k == "prompt"}
        with torch.inference_mode():
            out = pipe(**kwargs)
        self.last_steps = times
        if stopped[0]:
            raise Cancelled(f"every request of the batch was cancelled after {len(times.steps)} step(s)")
        images = list(out.images)
        result: list[list[Any]] = []
        for job in jobs:
            result.append(images[: job.n])
            images = images[job.n :]
        return result


def _derive(auto_cls: Any, pipe: Any) -> Any:
    """The img2img / inpainting twin of ``pipe`` sharing its weights, or None when diffusers has none for it."""
    try:
        derived = auto_cls.from_pipe(pipe)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    if hasattr(derived, "set_progress_bar_config"):
        derived.set_progress_bar_config(disable=True)
    return derived


def _random_seed() -> int:
    return int.from_bytes(os.urandom(4), "little")
