"""``imagegate local check``: load each configured local pipeline, render one small image, report time and memory."""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Annotated

import typer

local_app = typer.Typer(help="Local diffusers pipelines (the 'local' provider).", no_args_is_help=True)


@local_app.command("check")
def check(
    config: Annotated[Path | None, typer.Option("--config", help="YAML config file (also IMAGEGATE_CONFIG).")] = None,
    size: Annotated[int, typer.Option(help="Width and height of the test image, in pixels.")] = 512,
    steps: Annotated[int | None, typer.Option(help="Denoising steps (default: the model's configured steps).")] = None,
) -> None:
    """Load every configured pipeline and run one image through it."""
    from imagegate.providers.local.config import LocalConfigError, parse_local_config
    from imagegate.providers.local.runner import JobKey, LocalUnavailable, PipelineRunner
    from imagegate.providers.local.worker import LocalJob
    from imagegate.settings import Settings

    settings = Settings.load(config)
    try:
        local = parse_local_config(settings.local)
    except LocalConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not local.models:
        typer.echo("no local models configured (the 'local:' section of the config file)", err=True)
        raise typer.Exit(1)
    failed = False
    for model_id, cfg in local.models.items():
        runner = PipelineRunner(model_id, cfg)
        started = time.perf_counter()
        try:
            runner.load()
        except LocalUnavailable as exc:
            typer.echo(f"{model_id}: cannot load: {exc}")
            failed = True
            continue
        loaded = time.perf_counter() - started
        side = size // 16 * 16
        key = JobKey("generate", side, side, steps or cfg.steps, cfg.guidance)
        started = time.perf_counter()
        images = runner.run([LocalJob(key=key, prompt="a lighthouse on a cliff at dusk", n=1, seed=0)])
        took = time.perf_counter() - started
        per_step = runner.last_steps.mean
        typer.echo(
            f"{model_id}: {cfg.pipeline} on {cfg.device} ({cfg.dtype}); loaded in {loaded:.1f} s; "
            f"{images[0][0].width}x{images[0][0].height}, {key.steps} steps in {took:.2f} s "
            f"({per_step * 1000:.0f} ms per step); edit: {'yes' if runner.supports_edit else 'no'}; "
            f"{_memory(cfg.device)}"
        )
    raise typer.Exit(1 if failed else 0)


def _memory(device: str) -> str:
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = f"peak RSS {peak_rss_mib:.0f} MiB"
    if device.startswith("cuda"):
        import torch

        text += f", peak device memory {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB"
    return text
