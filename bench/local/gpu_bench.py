"""Local-provider throughput on one device: FLUX.1 [schnell] or SDXL-Turbo at their real architecture, random weights.

No machine here can download weights, and the time per denoising step does not depend on the weights' values, so
the models are built from their published configurations (``--tiny``: scaled-down configs, to check the script on a
CPU). Text encoding is skipped: random prompt embeddings of the real shapes go straight to the denoiser, which is
where the time goes. Requests go through the gateway's own ``GpuWorker`` (queue, batching, the worker thread), with
1, 4 and 8 concurrent requests, batching on (``max_batch`` = concurrency) and off (``max_batch`` = 1).

    python bench/local/gpu_bench.py --model flux-schnell --device cuda --dtype bfloat16 --size 1024 --steps 4
    python bench/local/gpu_bench.py --model sdxl-turbo --device cuda --dtype float16 --size 512 --steps 1
    python bench/local/gpu_bench.py --model flux-schnell --tiny --device cpu --size 64 --requests 4   # smoke test

Published anchor: Replicate, FLUX.1 [schnell] 0.72 s per 1024x1024 image at 4 steps.
Writes bench/local/results/<model>-<device>-<UTC time>.json and .md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from imagegate.providers.local.worker import GpuWorker, LocalJob

RESULTS = Path(__file__).parent / "results"


def build_flux(tiny: bool, dtype: Any, device: str) -> tuple[Any, dict[str, tuple[int, ...]]]:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel

    # tiny: a scaled-down transformer; otherwise the defaults, which are FLUX.1's configuration
    t = (
        dict(
            num_layers=1,
            num_single_layers=2,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=32,
            pooled_projection_dim=16,
            axes_dims_rope=(4, 6, 6),
        )
        if tiny
        else {}
    )  # defaults are FLUX.1's
    with torch.device(device):
        transformer = FluxTransformer2DModel(patch_size=1, in_channels=64, guidance_embeds=False, **t).to(dtype)
        blocks = (32, 32) if tiny else (128, 256, 512, 512)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=16,
            block_out_channels=blocks,
            layers_per_block=1 if tiny else 2,
            down_block_types=("DownEncoderBlock2D",) * len(blocks),
            up_block_types=("UpDecoderBlock2D",) * len(blocks),
            scaling_factor=0.3611,
            shift_factor=0.1159,
            use_quant_conv=False,
            use_post_quant_conv=False,
            norm_num_groups=32,
        ).to(dtype)
    scheduler = FlowMatchEulerDiscreteScheduler(shift=1.0, use_dynamic_shifting=False)
    pipe = FluxPipeline(
        scheduler=scheduler,
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        text_encoder_2=None,
        tokenizer_2=None,
        transformer=transformer,
    )
    joint = transformer.config.joint_attention_dim
    shapes = {
        "prompt_embeds": (512 if not tiny else 16, joint),
        "pooled_prompt_embeds": (transformer.config.pooled_projection_dim,),
    }
    return pipe, shapes


def build_sdxl(tiny: bool, dtype: Any, device: str) -> tuple[Any, dict[str, tuple[int, ...]]]:
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )

    if tiny:
        unet_cfg: dict[str, Any] = dict(
            block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 1),
            attention_head_dim=(2, 4),
            cross_attention_dim=64,
            projection_class_embeddings_input_dim=32 + 6 * 8,
            addition_time_embed_dim=8,
            layers_per_block=1,
        )
        pooled, context, vae_blocks = 32, 64, (32, 32)
    else:  # stabilityai/sdxl-turbo's unet/config.json
        unet_cfg = dict(
            block_out_channels=(320, 640, 1280),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            projection_class_embeddings_input_dim=2816,
            addition_time_embed_dim=256,
            layers_per_block=2,
        )
        pooled, context, vae_blocks = 1280, 2048, (128, 256, 512, 512)
    with torch.device(device):
        unet = UNet2DConditionModel(
            in_channels=4, out_channels=4, addition_embed_type="text_time", use_linear_projection=True, **unet_cfg
        ).to(dtype)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            block_out_channels=vae_blocks,
            down_block_types=("DownEncoderBlock2D",) * len(vae_blocks),
            up_block_types=("UpDecoderBlock2D",) * len(vae_blocks),
            layers_per_block=1 if tiny else 2,
            scaling_factor=0.13025,
            norm_num_groups=32,
        ).to(dtype)
    scheduler = EulerAncestralDiscreteScheduler(timestep_spacing="trailing")
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=None,
        text_encoder_2=None,
        tokenizer=None,
        tokenizer_2=None,
        unet=unet,
        scheduler=scheduler,
    )
    return pipe, {"prompt_embeds": (77, context), "pooled_prompt_embeds": (pooled,)}


def make_run_batch(pipe: Any, shapes: dict[str, tuple[int, ...]], args: argparse.Namespace, dtype: Any) -> Any:
    import torch

    def run(jobs: list[LocalJob]) -> list[list[Any]]:
        count = sum(j.n for j in jobs)
        embeds = {k: torch.randn((count, *shape), dtype=dtype, device=args.device) for k, shape in shapes.items()}
        kwargs: dict[str, Any] = dict(
            num_inference_steps=args.steps, width=args.size, height=args.size, output_type="pil", **embeds
        )
        if args.model == "sdxl-turbo":
            kwargs["guidance_scale"] = 0.0
        else:
            kwargs["max_sequence_length"] = shapes["prompt_embeds"][0]
        with torch.inference_mode():
            images = pipe(**kwargs).images
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        out, rest = [], list(images)
        for job in jobs:
            out.append(rest[: job.n])
            rest = rest[job.n :]
        return out

    return run


async def measure(run_batch: Any, concurrency: int, batching: bool, requests: int) -> dict[str, Any]:
    max_batch = concurrency if batching else 1
    worker = GpuWorker("bench", run_batch, max_batch=max_batch, max_queue=10_000, expected_s_per_image=1.0)
    latencies: list[float] = []

    async def client(i: int) -> None:
        for _ in range(requests // concurrency):
            t0 = time.perf_counter()
            await worker.submit(LocalJob(key="same", prompt="x", n=1, seed=i))
            latencies.append(time.perf_counter() - t0)

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(concurrency)))
    wall = time.perf_counter() - started
    await worker.aclose()
    return {
        "concurrency": concurrency,
        "batching": batching,
        "images": len(latencies),
        "wall_s": round(wall, 3),
        "images_per_s": round(len(latencies) / wall, 3),
        "s_per_image": round(wall / len(latencies), 3),
        "latency_p50_s": round(statistics.median(latencies), 3),
        "batches": worker.batches,
        "largest_batch": worker.largest_batch,
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["flux-schnell", "sdxl-turbo"], default="flux-schnell")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="bfloat16", choices=["float32", "float16", "bfloat16"])
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--concurrency", default="1,4,8")
    ap.add_argument(
        "--requests", type=int, default=16, help="images per configuration (a multiple of each concurrency)"
    )
    ap.add_argument("--tiny", action="store_true", help="scaled-down configs: a CPU smoke test of this script")
    args = ap.parse_args()
    import torch

    dtype = getattr(torch, args.dtype)
    build = build_flux if args.model == "flux-schnell" else build_sdxl
    pipe, shapes = build(args.tiny, dtype, args.device)
    pipe.set_progress_bar_config(disable=True)
    run_batch = make_run_batch(pipe, shapes, args, dtype)
    run_batch([LocalJob(key="same", prompt="warm-up", n=1)])  # kernels, allocator, cudnn autotune
    rows = []
    for c in (int(x) for x in args.concurrency.split(",")):
        for batching in (False, True):
            if c == 1 and batching:
                continue
            row = await measure(run_batch, c, batching, max(args.requests // c * c, c))
            rows.append(row)
            print(json.dumps(row), flush=True)
    device_name = (
        torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else f"cpu ({platform.machine()})"
    )
    peak = torch.cuda.max_memory_allocated(args.device) / 2**30 if args.device.startswith("cuda") else None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M")
    meta = {
        "model": args.model,
        "tiny": args.tiny,
        "device": device_name,
        "dtype": args.dtype,
        "size": args.size,
        "steps": args.steps,
        "torch": torch.__version__,
        "peak_device_gib": peak,
        "weights": "random (real architecture)" if not args.tiny else "random (tiny configs)",
        "anchor": "Replicate FLUX.1 [schnell]: 0.72 s per 1024x1024 image, 4 steps",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"{args.model}{'-tiny' if args.tiny else ''}-{args.device.replace(':', '')}-{stamp}"
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    lines = [
        f"# {args.model} on {device_name}, {args.size}px, {args.steps} steps, {args.dtype}",
        "",
        "| concurrency | batching | images/s | s/image | p50 latency s | batches | largest batch |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['concurrency']} | {'on' if r['batching'] else 'off'} | {r['images_per_s']} | {r['s_per_image']} | "
        f"{r['latency_p50_s']} | {r['batches']} | {r['largest_batch']} |"
        for r in rows
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    asyncio.run(main())
