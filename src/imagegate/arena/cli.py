"""``imagegate arena ...``: import FastChat battles, print a board, prefill the battle pool (in-process)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer

from imagegate.settings import Settings

arena_app = typer.Typer(help="The arena: battles, votes and boards.", no_args_is_help=True)
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file (also IMAGEGATE_CONFIG).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and images live.")]
TaskOpt = Annotated[str | None, typer.Option("--task", help="text-to-image or image-editing.")]


def _with_arena(config: Path | None, data_dir: Path | None, work) -> Any:  # type: ignore[no-untyped-def]
    from imagegate.core.errors import GatewayError
    from imagegate.services import build_services

    settings = Settings.load(config, data_dir=data_dir)

    async def go() -> Any:
        services = await build_services(settings)
        assert services.arena is not None
        await services.recorder.start()
        await services.arena.start(background=False)
        try:
            return await work(services.arena)
        finally:
            await services.aclose()

    try:
        return asyncio.run(go())
    except GatewayError as exc:
        typer.echo(f"error ({exc.status} {exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from None


@arena_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="FastChat battles: a JSON array or JSON lines.")],
    task: TaskOpt = None,
    competition: Annotated[str | None, typer.Option("--competition", help="Competition slug.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Import battles in FastChat's format (only anonymous battles count)."""
    data = file.read_bytes()

    async def work(arena):  # type: ignore[no-untyped-def]
        return await arena.import_battles(data, task, competition)

    body = _with_arena(config, data_dir, work)
    typer.echo(f"imported {body['imported']} battles ({body['counted']} counted, {body['skipped']} not anonymous)")


@arena_app.command("leaderboard")
def leaderboard(
    task: TaskOpt = None,
    competition: Annotated[str | None, typer.Option("--competition", help="Competition slug.")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Category slug.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the API's JSON.")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print a board: rank, rating with its 95 % interval, record."""
    import orjson

    async def work(arena):  # type: ignore[no-untyped-def]
        return arena.leaderboard(task, competition, category)

    board = _with_arena(config, data_dir, work)
    if as_json:
        typer.echo(orjson.dumps(board, option=orjson.OPT_INDENT_2).decode())
        return
    share = board["left_win_share"]
    typer.echo(
        f"{board['board']['title']}: {board['battles']} battles, {board['ranked']} ranked, "
        f"left image won {'-' if share is None else f'{share * 100:.1f}%'} of decided votes"
    )
    typer.echo(f"{'rank':>4}  {'model':<36} {'rating':>7}  {'95% interval':>13}  {'W/L/T':>13} {'win rate':>8}")
    for r in board["rows"]:
        rank = f"#{r['rank']}" if r["rank"] is not None else "-"
        wr = "-" if r["win_rate"] is None else f"{r['win_rate'] * 100:.1f}%"
        record = f"{r['wins']}/{r['losses']}/{r['ties']}"
        interval = f"{r['lower']:.0f}-{r['upper']:.0f}"
        typer.echo(f"{rank:>4}  {r['model']:<36} {r['rating']:>7.0f}  {interval:>13}  {record:>13} {wr:>8}")


@arena_app.command("prefill")
def prefill(
    n: Annotated[int, typer.Argument(help="How many battles to generate into the pool.")],
    task: TaskOpt = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Generate N battles ahead of time so voters never wait (spend counts against the arena's daily cap)."""

    async def work(arena):  # type: ignore[no-untyped-def]
        return await arena.prefill(n, task=task)

    made = _with_arena(config, data_dir, work)
    typer.echo(f"generated {made} battles into the pool")
