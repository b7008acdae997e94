"""The ``local`` provider: catalog offers ``local/<model>`` served by diffusers pipelines on this machine's devices.

One ``GpuWorker`` per configured model (one loaded pipeline, one queue, one thread). The router sees a local offer
like any other: measured latency and success, a price (``usd_per_gpu_second`` x the device time, default 0), and
the queue's expected wait (``expected_wait_s``), which it adds to the offer's expected time.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import Any

from imagegate.core.errors import BadResponse, Timeout, Unavailable
from imagegate.core.types import GeneratedImage, ImageResult, InputImage, Usage
from imagegate.providers.base import ProviderCall
from imagegate.providers.local.config import LocalConfig, LocalModelConfig
from imagegate.providers.local.runner import JobKey, LocalUnavailable, PipelineRunner
from imagegate.providers.local.worker import BatchOutput, Cancelled, GpuWorker, LocalJob

log = logging.getLogger("imagegate.local")
SIZE_MULTIPLE = 16  # latent grids of SD, SDXL, SD3 and FLUX all divide 16-pixel multiples


class LocalProvider:
    name = "local"

    def __init__(self, runners: dict[str, PipelineRunner], workers: dict[str, GpuWorker]) -> None:
        self.runners = runners
        self.workers = workers
        self._edit_ids = 0

    @staticmethod
    def model_of(call_offer_config_key: str) -> str:
        return call_offer_config_key.split("/", 1)[1] if "/" in call_offer_config_key else call_offer_config_key

    def start(self) -> None:
        for worker in self.workers.values():
            worker.start()

    def expected_wait_s(self, config_key: str) -> float:
        """Seconds a request for this offer would wait in its queue now (the router prices it in)."""
        worker = self.workers.get(self.model_of(config_key))
        return worker.expected_wait_s() if worker is not None else 0.0

    async def generate(self, call: ProviderCall) -> ImageResult:
        model = self.model_of(call.offer.config_key)
        worker, runner = self.workers.get(model), self.runners.get(model)
        if worker is None or runner is None:
            raise Unavailable(f"local: no pipeline is configured for {model}", provider="local")
        request = call.request
        job = LocalJob(key=self._key(call, runner.cfg), prompt=request.prompt, n=call.n, seed=request.seed)
        if request.operation == "edit":
            job.image = await asyncio.to_thread(_pil, request.images[0], call.spec.width, call.spec.height)
            if request.mask is not None:
                job.mask = await asyncio.to_thread(_pil, request.mask, call.spec.width, call.spec.height)
        remaining = call.remaining()
        try:
            async with asyncio.timeout(remaining if remaining > 0 else None):
                out = await worker.submit(job)
        except TimeoutError:
            raise Timeout(f"local {model}: no image within the deadline", provider="local") from None
        except Cancelled as exc:
            raise Unavailable(f"local {model}: {exc}", provider="local") from None
        except LocalUnavailable as exc:
            raise Unavailable(f"local {model}: {exc}", provider="local") from None
        return await asyncio.to_thread(_result, out, request.output_format, len(request.images))

    def _key(self, call: ProviderCall, cfg: LocalModelConfig) -> JobKey:
        width = max(SIZE_MULTIPLE, call.spec.width // SIZE_MULTIPLE * SIZE_MULTIPLE)
        height = max(SIZE_MULTIPLE, call.spec.height // SIZE_MULTIPLE * SIZE_MULTIPLE)
        steps = _int_option(call.request.extra.get("num_inference_steps"), cfg.steps)
        guidance = call.request.extra.get("guidance_scale", cfg.guidance)
        unique = 0
        if call.request.operation == "edit":
            self._edit_ids += 1
            unique = self._edit_ids
        return JobKey(call.request.operation, width, height, steps, _float_or_none(guidance), unique)

    async def aclose(self) -> None:
        for worker in self.workers.values():
            await worker.aclose()


def _int_option(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 200 else default


def _float_or_none(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _pil(image: InputImage, width: int, height: int) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(image.data)) as im:
        return im.convert("RGB").resize(
            (width // SIZE_MULTIPLE * SIZE_MULTIPLE, height // SIZE_MULTIPLE * SIZE_MULTIPLE)
        )


def _result(out: BatchOutput, output_format: str | None, input_images: int) -> ImageResult:
    images = []
    for im in out.images:
        buf = io.BytesIO()
        im.save(buf, format="PNG", compress_level=1)  # the pipeline normalises to the asked format afterwards
        images.append(GeneratedImage(mime_type="image/png", data=buf.getvalue(), width=im.width, height=im.height))
    if not images:
        raise BadResponse("local: the pipeline returned no image", provider="local")
    usage = Usage(output_images=len(images), input_images=input_images, gpu_ms=round(out.gpu_seconds * 1000))
    return ImageResult(images=images, usage=usage)


def build_local(config: LocalConfig, load: bool = True) -> tuple[LocalProvider | None, list[str]]:
    """Load every configured pipeline; returns the provider (None when nothing loaded) and banner lines."""
    if not config.models:
        return None, ["  local       inactive  (no local models configured)"]
    runners: dict[str, PipelineRunner] = {}
    workers: dict[str, GpuWorker] = {}
    lines: list[str] = []
    for model_id, cfg in config.models.items():
        runner = PipelineRunner(model_id, cfg)
        try:
            if load:
                runner.load()
        except LocalUnavailable as exc:
            lines.append(f"  local       inactive  ({model_id}: {exc})")
            continue
        runners[model_id] = runner
        workers[model_id] = GpuWorker(
            model_id,
            runner.run,
            max_batch=cfg.max_batch,
            max_queue=cfg.max_queue,
            expected_s_per_image=cfg.expected_s_per_image,
        )
        edit = "edit" if runner.supports_edit else "no edit"
        lines.append(f"  local       active    ({model_id}: {cfg.pipeline} on {cfg.device}, {edit})")
    if not runners:
        return None, lines
    return LocalProvider(runners, workers), lines
