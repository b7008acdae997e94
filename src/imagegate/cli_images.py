"""``imagegate generate`` and ``imagegate edit``: one request, in-process, with the configured providers.

Every failure a user can cause (a missing file, an output format we cannot write, a bad value) is one line on
stderr and exit status 1, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from imagegate.settings import Settings

# The output formats the gateway can write, by file extension.
EXTENSIONS = {"png": "png", "jpg": "jpeg", "jpeg": "jpeg", "webp": "webp", "gif": "gif", "avif": "avif"}

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file (also IMAGEGATE_CONFIG).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and images live.")]
OutputOpt = Annotated[
    Path | None, typer.Option("-o", "--output", help="Output file; its extension picks the format (png, jpg, ...).")
]
ModelOpt = Annotated[str, typer.Option(help="Model id, alias or provider/model.")]
SizeOpt = Annotated[str | None, typer.Option(help="WxH, W:H or auto.")]
FormatOpt = Annotated[str | None, typer.Option("--format", help="png, jpeg, webp, gif or avif (default: from -o).")]
AspectOpt = Annotated[str | None, typer.Option("--aspect-ratio", help="W:H, such as 16:9.")]
ResolutionOpt = Annotated[str | None, typer.Option("--resolution", help="auto, 0.5K, 1K, 2K or 4K.")]
QualityOpt = Annotated[str | None, typer.Option("--quality", help="low, medium, high, standard, hd or auto.")]
ProviderOpt = Annotated[str | None, typer.Option("--provider", help="Force one provider (gemini, vertex, ...).")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", help="Print the price estimate; call no provider.")]


class CliError(Exception):
    """A user error, printed as one line."""


def fail(exc: Exception) -> None:
    """Print ``exc`` as one line and exit 1; anything unexpected is re-raised (a bug: keep its traceback)."""
    from imagegate.core.errors import GatewayError

    if isinstance(exc, GatewayError):
        typer.echo(f"error ({exc.status} {exc.code}): {exc.message}", err=True)
    elif isinstance(exc, CliError):
        typer.echo(f"error: {exc}", err=True)
    elif isinstance(exc, OSError):
        typer.echo(f"error: {exc.filename or ''}: {exc.strerror or exc}", err=True)
    else:
        raise exc
    raise typer.Exit(1)


def output_format(output: Path | None, fmt: str | None) -> str | None:
    """The format to ask for: ``--format``, else the extension of ``-o``; refuses what cannot be written."""
    known = ", ".join(sorted(set(EXTENSIONS)))
    if fmt is not None:
        normal = EXTENSIONS.get(fmt.lower().lstrip("."))
        if normal is None:
            raise CliError(f"--format {fmt!r} is not one the gateway writes: {known}.")
    else:
        normal = None
    if output is not None and output.suffix:
        by_name = EXTENSIONS.get(output.suffix.lower().lstrip("."))
        if by_name is None:
            raise CliError(f"cannot write {output.name!r}: the gateway writes {known}; pick one of those extensions.")
        if normal is not None and normal != by_name:
            raise CliError(f"--format {fmt} does not match the extension of {output.name!r}.")
        normal = normal or by_name
    return normal


def request_fields(
    model: str,
    prompt: str,
    *,
    provider: str | None,
    size: str | None,
    fmt: str | None,
    aspect_ratio: str | None,
    resolution: str | None,
    quality: str | None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"model": f"{provider}/{model}" if provider else model, "prompt": prompt}
    data["response_format"] = "b64_json"
    for key, value in (
        ("size", size),
        ("output_format", fmt),
        ("aspect_ratio", aspect_ratio),
        ("resolution", resolution),
        ("quality", quality),
    ):
        if value:
            data[key] = value
    return data


def run_request(settings: Settings, request: Any, *, dry_run: bool) -> dict[str, Any]:
    from imagegate.services import build_services

    async def go() -> dict[str, Any]:
        services = await build_services(settings)
        await services.start()
        try:
            request.request_id = "cli_" + os.urandom(6).hex()
            if dry_run:
                return services.gateway.dry_run(request)
            return (await services.gateway.run(request)).body
        finally:
            await services.aclose()

    return asyncio.run(go())


def write_outputs(body: dict[str, Any], output: Path) -> None:
    for i, item in enumerate(body["data"]):
        target = output if i == 0 else output.with_name(f"{output.stem}-{i + 1}{output.suffix}")
        target.write_bytes(base64.b64decode(item["b64_json"]))
        typer.echo(str(target))
    meta = body["metadata"]
    typer.echo(f"provider={meta['provider']} cost=${meta['cost']:.6f} request_id={meta['request_id']}", err=True)


def _finish(settings: Settings, request: Any, output: Path | None, dry_run: bool) -> None:
    body = run_request(settings, request, dry_run=dry_run)
    if dry_run:
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    assert output is not None
    write_outputs(body, output)


def _settings(config: Path | None, data_dir: Path | None) -> Settings:
    from imagegate.cli import _load_settings

    return _load_settings(config, data_dir=data_dir)


def _fields(
    output: Path | None,
    dry_run: bool,
    model: str,
    prompt: str,
    provider: str | None,
    size: str | None,
    fmt: str | None,
    aspect_ratio: str | None,
    resolution: str | None,
    quality: str | None,
) -> dict[str, Any]:
    """The request fields ``generate`` and ``edit`` share, after checking there is somewhere to write."""
    if output is None and not dry_run:
        raise CliError("say where to write the image with -o FILE (or use --dry-run).")
    return request_fields(
        model,
        prompt,
        provider=provider,
        size=size,
        fmt=output_format(output, fmt),
        aspect_ratio=aspect_ratio,
        resolution=resolution,
        quality=quality,
    )


def generate(
    prompt: str,
    output: OutputOpt = None,
    model: ModelOpt = "gemini-3-pro-image-preview",
    size: SizeOpt = None,
    n: Annotated[int, typer.Option("-n", help="Number of images.")] = 1,
    fmt: FormatOpt = None,
    aspect_ratio: AspectOpt = None,
    resolution: ResolutionOpt = None,
    quality: QualityOpt = None,
    provider: ProviderOpt = None,
    dry_run: DryRunOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Generate image(s) from a prompt, in-process, with the configured providers."""
    from imagegate.api.parsing import Limits, build_request

    settings = _settings(config, data_dir)
    try:
        data = _fields(output, dry_run, model, prompt, provider, size, fmt, aspect_ratio, resolution, quality)
        data["n"] = n
        req = build_request(data, operation="generate", limits=Limits(settings.max_prompt_chars, settings.max_n))
        _finish(settings, req, output, dry_run)
    except Exception as exc:
        fail(exc)


def edit(
    images: Annotated[list[Path], typer.Argument(help="Input image file(s).")],
    prompt: Annotated[str, typer.Option("--prompt", help="What to change.")],
    output: OutputOpt = None,
    mask: Annotated[Path | None, typer.Option("--mask", help="Mask image (same size as the first image).")] = None,
    model: ModelOpt = "gemini-3-pro-image-preview",
    size: SizeOpt = None,
    fmt: FormatOpt = None,
    aspect_ratio: AspectOpt = None,
    resolution: ResolutionOpt = None,
    quality: QualityOpt = None,
    provider: ProviderOpt = None,
    dry_run: DryRunOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Edit image(s) with a prompt, in-process."""
    from imagegate.api.parsing import Limits, build_request
    from imagegate.media.inspect import check_mask, inspect_image

    settings = _settings(config, data_dir)
    try:
        fields = _fields(output, dry_run, model, prompt, provider, size, fmt, aspect_ratio, resolution, quality)
        limit = settings.max_image_pixels
        inputs = [inspect_image(p.read_bytes(), max_pixels=limit, filename=p.name) for p in images]
        mask_img = None
        if mask is not None:
            mask_img = inspect_image(mask.read_bytes(), max_pixels=limit, filename=mask.name, field="mask")
            check_mask(mask_img, inputs[0])
        limits = Limits(settings.max_prompt_chars, settings.max_n)
        req = build_request(fields, operation="edit", limits=limits, images=inputs, mask=mask_img)
        _finish(settings, req, output, dry_run)
    except Exception as exc:
        fail(exc)
