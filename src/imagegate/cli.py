"""The ``imagegate`` command: serve the gateway, generate and edit from the shell, list models."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from imagegate.settings import Settings

app = typer.Typer(help="imagegate: one OpenAI-compatible API for every image model provider.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file (also IMAGEGATE_CONFIG).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and images live.")]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


IN_FLIGHT_GOAL = 10_000  # requests one deployment is expected to hold open at once (issue 18's hold test)
_FD_RESERVE = 200  # descriptors a worker keeps for its database, logs, blob files and listening socket


def _raise_open_file_limit() -> int:
    """Each request in flight holds two sockets: lift the soft descriptor limit to the hard one. Returns the
    soft limit now in force."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def in_flight_advice(fd_limit: int, workers: int, goal: int = IN_FLIGHT_GOAL) -> str | None:
    """What to say at start when ``workers`` processes of ``fd_limit`` descriptors each cannot hold ``goal``
    requests at once (two sockets per request: the client's and the upstream's); None when they can."""
    per_worker = max(0, (fd_limit - _FD_RESERVE) // 2)
    if per_worker * workers >= goal:
        return None
    needed = -(-goal // per_worker) if per_worker else None
    advice = f"run `imagegate serve --workers {needed}`" if needed else "raise it"
    return (
        f"imagegate: the open-file limit is {fd_limit:,} descriptors per process and a request in flight holds two "
        f"(client and upstream), so {workers} worker(s) hold about {per_worker * workers:,} requests at once; for "
        f"{goal:,}, {advice} or raise the hard limit (`ulimit -Hn`, systemd `LimitNOFILE=`, Docker `--ulimit nofile=`)."
    )


def _load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Settings, or a one-line error naming the bad key (no traceback)."""
    from imagegate.settings import SettingsError

    try:
        return Settings.load(config, **overrides)
    except (SettingsError, OSError) as exc:
        typer.echo(f"imagegate: {exc}", err=True)
        raise typer.Exit(2) from None


def _has_database_keys(settings: Settings) -> bool:
    """Whether the database holds a live API key: the server then requires keys, so it may serve other hosts."""
    from imagegate.store.db import Database, run_migrations

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.db_url)
    db = Database(settings.db_url)
    try:
        return db.has_api_keys()
    finally:
        db.dispose()


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8080).")] = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes (default 1).")] = None,
) -> None:
    """Run the gateway (uvicorn with uvloop and httptools)."""
    settings = _load_settings(config, host=host, port=port, data_dir=data_dir, workers=workers)
    if not _is_loopback(settings.host) and not settings.auth_enabled and not _has_database_keys(settings):
        typer.echo(
            f"imagegate: no master key, API keys or database keys are configured, so the gateway binds to "
            f"127.0.0.1 instead of {settings.host}. Set IMAGEGATE_MASTER_KEY or IMAGEGATE_API_KEYS, or create a key "
            "with `imagegate keys create`, to serve other hosts.",
            err=True,
        )
        settings.host = "127.0.0.1"
    advice = in_flight_advice(_raise_open_file_limit(), settings.workers)
    if advice:
        typer.echo(advice, err=True)
    # Workers re-read settings from the environment: pass what the flags said.
    os.environ["IMAGEGATE_HOST"] = settings.host
    os.environ["IMAGEGATE_PORT"] = str(settings.port)
    os.environ["IMAGEGATE_DATA_DIR"] = str(settings.data_dir.resolve())
    if config:
        os.environ["IMAGEGATE_CONFIG"] = str(Path(config).resolve())
    from imagegate.api.protocol import HEADER_TIMEOUT_ENV, GatewayProtocol

    os.environ[HEADER_TIMEOUT_ENV] = str(settings.header_timeout_s)
    from imagegate.api import serving

    serving.run(
        "imagegate.api.asgi:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        loop="uvloop",
        http=GatewayProtocol,  # httptools with a header read timeout and more (imagegate.api.protocol)
        access_log=False,
        proxy_headers=False,  # nothing reads the client address or scheme; saves a middleware per request
        log_level="info",
        timeout_graceful_shutdown=int(settings.request_timeout_s) + 5,
        server_header=False,
    )


@app.command()
def worker(
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    concurrency: Annotated[int | None, typer.Option(help="Jobs worked at once (default: jobs_concurrency).")] = None,
) -> None:
    """Run queued jobs and webhook deliveries from the gateway's database (see docs/jobs.md)."""
    from imagegate.jobs.worker import run_worker

    settings = Settings.load(config, data_dir=data_dir)
    if concurrency:
        settings.jobs_concurrency = concurrency
    asyncio.run(run_worker(settings))


from imagegate.cli_images import edit, fail, generate  # noqa: E402 - the image commands live there

_fail = fail
app.command()(generate)
app.command()(edit)


@app.command("models")
def list_models(config: ConfigOpt = None) -> None:
    """List the catalog's models with their aliases and providers."""
    from imagegate.catalog.loader import load_catalog

    settings = _load_settings(config)
    catalog = load_catalog(settings.catalog_dirs)
    active = set(settings.active_providers())
    for m in catalog.models():
        providers = ", ".join(f"{o.provider}{'*' if o.provider in active else ''}" for o in m.offers)
        aliases = f" (aliases: {', '.join(m.aliases)})" if m.aliases else ""
        typer.echo(f"{m.id}{aliases}\n    {m.name} by {m.creator}; providers: {providers}")
    typer.echo("(* = credentials configured)", err=True)


from imagegate.arena.cli import arena_app  # noqa: E402

app.add_typer(arena_app, name="arena")


def _open_db(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from imagegate.store.db import Database, run_migrations

    settings = _load_settings(config, data_dir=data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    run_migrations(settings.db_url)
    return Database(settings.db_url)


from imagegate.cli_keys import keys_app  # noqa: E402  (imagegate keys create|list|show|update|revoke)

app.add_typer(keys_app, name="keys")


@app.command()
def demo(
    time_scale: Annotated[float, typer.Option(help="Real seconds per simulated second (0.05: 20x faster).")] = 0.05,
    port: Annotated[int, typer.Option(help="Gateway port (0: a free one).")] = 0,
    requests: Annotated[int | None, typer.Option(help="Stop after this many requests (default: until Ctrl-C).")] = None,
    concurrency: Annotated[int, typer.Option(help="Clients sending requests at once.")] = 4,
    seed: Annotated[int | None, typer.Option(help="Seed for the fakes' random draws.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Fake Gemini, Vertex, Replicate and fal with the seed's measured profiles, the gateway in front: watch it
    route, fail over and fill in the figures. Nothing leaves this machine."""
    import tempfile

    from imagegate.extras import MissingExtra, require

    try:
        for module in ("httpx", "cryptography", "google.oauth2.service_account"):
            require(module, "demo", "imagegate demo")
    except MissingExtra as exc:
        typer.echo(f"imagegate: {exc}", err=True)
        raise typer.Exit(2) from None
    from imagegate.demo import run_demo

    target = data_dir or Path(tempfile.mkdtemp(prefix="imagegate-demo-"))
    run_demo(time_scale, port, requests, target, seed=seed, concurrency=concurrency)


@app.command()
def stats(
    model: Annotated[str, typer.Argument(help="Model id or alias.")],
    days: Annotated[int | None, typer.Option(help="Window in days (default 30).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of the text block.")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print each provider's measured performance and prices for MODEL, from the request log."""
    import orjson

    from imagegate.catalog.loader import load_catalog
    from imagegate.telemetry.performance import format_block, model_providers

    settings = _load_settings(config, data_dir=data_dir)
    try:
        record, _ = load_catalog(settings.catalog_dirs).resolve(model)
    except Exception as exc:
        _fail(exc)
        return
    db = _open_db(config, data_dir)
    try:
        body = model_providers(
            db,
            record,
            window_days=days or settings.stats_window_days,
            active=set(settings.active_providers()),
            active_from_log=True,
        )
    finally:
        db.dispose()
    typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode() if as_json else format_block(body))


def main() -> None:  # pragma: no cover - console entry
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())


from imagegate.cli_local import local_app  # noqa: E402  (a sub-command group of its own module)

app.add_typer(local_app, name="local")
