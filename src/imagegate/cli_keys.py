"""``imagegate keys``: the admin API's key operations from the shell, on the configured database.

The flags build the same key body as ``POST /v1/admin/keys`` and go through the same validation; a running gateway
sees every change at once (the key version stamp, ``tenancy/directory.py``), no restart needed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from imagegate.settings import Settings

keys_app = typer.Typer(help="Manage API keys stored (hashed) in the database.", no_args_is_help=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="YAML config file (also IMAGEGATE_CONFIG).")]
DataDirOpt = Annotated[Path | None, typer.Option("--data-dir", help="Where the database and images live.")]
ExpiresOpt = Annotated[str | None, typer.Option("--expires-at", help="ISO date-time after which the key is refused.")]
ModelsOpt = Annotated[list[str] | None, typer.Option("--model", help="Allowed model id or alias (repeat; default *).")]
RoutingOpt = Annotated[
    str | None, typer.Option("--routing", help='Default routing preferences, JSON: {"sort": "price"}.')
]
BudgetOpt = Annotated[float | None, typer.Option("--budget-usd", help="Budget in USD per period.")]
PeriodOpt = Annotated[str | None, typer.Option("--budget-period", help="day, month (default) or total.")]
BudgetModelsOpt = Annotated[
    list[str] | None, typer.Option("--budget-model", help="Limit the budget to this model (repeat).")
]
RpmOpt = Annotated[int | None, typer.Option("--requests-per-minute", "--rpm", help="Requests per minute.")]
IpmOpt = Annotated[int | None, typer.Option("--images-per-minute", "--ipm", help="Images per minute.")]
MetadataOpt = Annotated[list[str] | None, typer.Option("--metadata", help="key=value (repeat).")]


def _tenancy(config: Path | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from imagegate.catalog.loader import load_catalog
    from imagegate.cli import _open_db
    from imagegate.tenancy.keystore import KeyStore

    settings = Settings.load(config, data_dir=data_dir)
    return KeyStore(_open_db(config, data_dir)), load_catalog(settings.catalog_dirs)


def _body(
    name: str | None,
    expires_at: str | None,
    models: list[str] | None,
    routing: str | None,
    budget_usd: float | None,
    budget_period: str | None,
    budget_models: list[str] | None,
    rpm: int | None,
    ipm: int | None,
    metadata: list[str] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if name is not None:
        body["name"] = name
    if expires_at is not None:
        body["expires_at"] = expires_at
    if models:
        body["models"] = models
    if routing is not None:
        try:
            body["routing"] = orjson.loads(routing)
        except orjson.JSONDecodeError:
            raise typer.BadParameter("--routing must be a JSON object") from None
    if budget_usd is not None:
        body["budget"] = {"usd": budget_usd, "period": budget_period or "month"}
        if budget_models:
            body["budget"]["models"] = budget_models
    if rpm is not None or ipm is not None:
        body["rate_limits"] = {"requests_per_minute": rpm, "images_per_minute": ipm}
    if metadata:
        pairs = [item.partition("=") for item in metadata]
        if any(not sep for _, sep, _ in pairs):
            raise typer.BadParameter("--metadata takes key=value")
        body["metadata"] = {k: v for k, _, v in pairs}
    return body


def _print(view: dict[str, Any]) -> None:
    typer.echo(orjson.dumps(view, option=orjson.OPT_INDENT_2).decode())


def _fail(exc: Exception) -> None:
    from imagegate.core.errors import GatewayError

    if isinstance(exc, GatewayError):
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2)
    raise exc


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option("--name", help="A label for the key.")] = "default",
    expires_at: ExpiresOpt = None,
    model: ModelsOpt = None,
    routing: RoutingOpt = None,
    budget_usd: BudgetOpt = None,
    budget_period: PeriodOpt = None,
    budget_model: BudgetModelsOpt = None,
    rpm: RpmOpt = None,
    ipm: IpmOpt = None,
    metadata: MetadataOpt = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API key. The key is printed once (stdout); only its hash is stored. Works at once on running
    servers."""
    from imagegate.tenancy.policy import parse_key_body

    store, catalog = _tenancy(config, data_dir)
    try:
        body = _body(name, expires_at, model, routing, budget_usd, budget_period, budget_model, rpm, ipm, metadata)
        view, plaintext = store.create(parse_key_body(body, catalog))
    except Exception as exc:
        _fail(exc)
        return
    finally:
        store.db.dispose()
    typer.echo(plaintext)
    typer.echo(f"created {view['id']} ({view['name']}); store the key now, it cannot be shown again", err=True)


@keys_app.command("list")
def keys_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List API keys (id, prefix, name, created, revoked, budget, limits)."""
    store, _ = _tenancy(config, data_dir)
    try:
        keys = store.list()
    finally:
        store.db.dispose()
    if as_json:
        typer.echo(orjson.dumps(keys, option=orjson.OPT_INDENT_2).decode())
        return
    for k in keys:
        revoked = f" revoked {k['revoked_at'][:10]}" if k["revoked_at"] else ""
        budget = f" budget ${k['budget']['usd']:g}/{k['budget']['period']}" if k["budget"] else ""
        typer.echo(f"{k['id']}  {k['prefix']}...  {k['name']}  created {k['created_at'][:10]}{revoked}{budget}")


def _on_key(key_id: str, config: Path | None, data_dir: Path | None, op: Callable[[Any, Any], Any]) -> Any:
    """``op(store, catalog)`` on the key store; its answer, or exit 1 with ``no key ID`` when it found none (a
    refused change is one line, exit 2: ``_fail``)."""
    store, catalog = _tenancy(config, data_dir)
    try:
        view = op(store, catalog)
    except Exception as exc:
        _fail(exc)
        raise  # _fail raised already
    finally:
        store.db.dispose()
    if view is None:
        typer.echo(f"no key {key_id}", err=True)
        raise typer.Exit(1)
    return view


@keys_app.command("show")
def keys_show(key_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Show one key (JSON, without its secret)."""
    _print(_on_key(key_id, config, data_dir, lambda store, _catalog: store.get(key_id)))


@keys_app.command("update")
def keys_update(
    key_id: str,
    name: Annotated[str | None, typer.Option("--name", help="A new label.")] = None,
    expires_at: ExpiresOpt = None,
    model: ModelsOpt = None,
    routing: RoutingOpt = None,
    budget_usd: BudgetOpt = None,
    budget_period: PeriodOpt = None,
    budget_model: BudgetModelsOpt = None,
    rpm: RpmOpt = None,
    ipm: IpmOpt = None,
    metadata: MetadataOpt = None,
    no_budget: Annotated[bool, typer.Option("--no-budget", help="Remove the budget.")] = False,
    no_rate_limits: Annotated[bool, typer.Option("--no-rate-limits", help="Remove the rate limits.")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Change a key: only the fields given change (like PATCH /v1/admin/keys/{id})."""
    from imagegate.tenancy.policy import parse_key_body

    def update(store: Any, catalog: Any) -> Any:
        body = _body(name, expires_at, model, routing, budget_usd, budget_period, budget_model, rpm, ipm, metadata)
        if no_budget:
            body["budget"] = None
        if no_rate_limits:
            body["rate_limits"] = None
        return store.update(key_id, parse_key_body(body, catalog, partial=True))

    _print(_on_key(key_id, config, data_dir, update))


@keys_app.command("revoke")
def keys_revoke(key_id: str, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Revoke an API key by id: refused by every running server within 1 s."""
    _on_key(key_id, config, data_dir, lambda store, _catalog: store.revoke(key_id))
    typer.echo(f"revoked {key_id}")
