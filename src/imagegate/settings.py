"""Settings: defaults < config file (YAML) < environment (``IMAGEGATE_*`` and providers' own names).

Built once by ``Settings.load``; the app factory takes a ``Settings`` so tests build their own. Every value is
checked by pydantic, whichever layer it came from, and a bad one is a ``SettingsError`` naming the key, where it
came from (file or environment variable) and the type expected.

Adding a setting is one line in ``Settings``: its YAML key is the field's name and its environment variable is
``IMAGEGATE_<NAME>`` (``ENV_NAMES`` lists the few historic exceptions, ``NO_ENV`` the structured ones).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class SettingsError(ValueError):
    """A setting with a bad value or an unknown name; the message names the key, its source and the type expected."""


class _Checked(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ProviderSettings(_Checked):
    """Credentials and endpoint of one upstream provider. ``active`` when credentials are present."""

    name: str
    api_key: str | None = None  # GEMINI_API_KEY, REPLICATE_API_TOKEN, FAL_KEY, OPENAI_API_KEY
    base_url: str | None = None  # IMAGEGATE_<NAME>_BASE_URL
    credentials_file: str | None = None  # vertex: GOOGLE_APPLICATION_CREDENTIALS
    project: str | None = None  # vertex: VERTEX_PROJECT (else the service account's project_id)
    location: str = "global"
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 300.0
    total_timeout_s: float = 600.0
    poll_scale: float = 1.0  # multiplies queue/prediction polling intervals (fal, Replicate); <1 polls sooner
    enabled: bool = True

    @property
    def active(self) -> bool:
        if not self.enabled:
            return False
        if self.name == "vertex":
            return bool(self.credentials_file)
        return bool(self.api_key)

    def __repr__(self) -> str:  # never print secrets
        return f"ProviderSettings(name={self.name!r}, base_url={self.base_url!r}, active={self.active})"

    __str__ = __repr__


# provider -> (key env var, base url env var)
PROVIDER_ENV: dict[str, tuple[str, str]] = {
    "gemini": ("GEMINI_API_KEY", "IMAGEGATE_GEMINI_BASE_URL"),
    "vertex": ("GOOGLE_APPLICATION_CREDENTIALS", "IMAGEGATE_VERTEX_BASE_URL"),
    "replicate": ("REPLICATE_API_TOKEN", "IMAGEGATE_REPLICATE_BASE_URL"),
    "fal": ("FAL_KEY", "IMAGEGATE_FAL_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "IMAGEGATE_OPENAI_BASE_URL"),
}


class Settings(_Checked):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = Path("./data")
    database_url: str | None = None  # default: sqlite in data_dir
    redis_url: str | None = None  # routing state shared across workers when set
    redis_prefix: str = "imagegate:router"  # key namespace, so several gateways can share one Redis
    public_base_url: str | None = None  # for image URLs; default http://host:port
    master_key: str | None = Field(default=None, repr=False)  # IMAGEGATE_MASTER_KEY
    api_keys: list[str] = Field(default=[], repr=False)  # IMAGEGATE_API_KEYS (comma separated)
    url_ttl_s: int = 3600  # response_format=url lifetime
    max_upload_bytes: int = 20 * 1024 * 1024  # whole multipart body
    max_image_pixels: int = 64_000_000  # decompression-bomb limit per image
    max_request_pixels: int = 128_000_000  # all the images of one edit request together (declared in headers)
    decode_concurrency: int = Field(default=2, ge=1)  # image decodes at once, per worker process
    max_prompt_chars: int = 32_000
    max_n: int = 10
    max_input_images: int = 16  # per edit request, before any model's own limit
    log_prompts: bool = False
    request_timeout_s: float = 300.0  # per-request deadline across all attempts
    header_timeout_s: float = Field(default=10.0, gt=0)  # a connection's request line and headers must arrive in it
    body_timeout_s: float = Field(default=30.0, gt=0)  # the longest wait for the next piece of a request body
    metrics_public: bool = False  # /metrics without a key even when keys are configured
    placeholder: str = "auto"  # auto (only when no provider is active) | on | off
    catalog_dirs: list[Path] = []  # extra catalog data dirs
    routing: dict[str, Any] = {}  # router options (policy weights, per-model)
    stats_window_days: int = 30
    workers: int = Field(default=1, ge=1)
    runtime_tuning: bool = True  # allocator and gc tuning in served workers (imagegate/runtime.py)
    providers: dict[str, ProviderSettings] = {}
    # web catalog, playground and gallery (imagegate/web)
    pages_public: bool = True  # web catalog pages readable without a key (when keys are configured)
    session_secret: str | None = Field(default=None, repr=False)  # signs the web session; default: kept in data_dir
    perf_refresh_s: float = Field(default=30.0, gt=0)  # how often the pages' performance rollup takes in attempts
    # streaming and chat completions
    stream_keepalive_s: float = Field(default=15.0, gt=0)  # SSE keep-alive interval; also how long a stream waits
    allow_private_image_urls: bool = False  # chat image_url fetches may reach private/loopback addresses
    # arena (imagegate/arena): battles, votes, ratings
    arena_dirs: list[Path] = []  # extra competition/category data files or dirs
    arena_sampling: str = "uncertain"  # uncertain (the least settled pair) | uniform
    arena_daily_spend_usd: float | None = 5.0  # generation for battles stops for the UTC day at this spend
    arena_votes_per_day: int = 500  # per voter (API key or browser id)
    arena_pool_size: int = 0  # battles kept ready per task by a background task (0: off; see `arena prefill`)
    arena_min_battles: int = 4  # battles before a model is ranked on a board
    arena_bootstrap_rounds: int = 100
    arena_seed: int = 42
    arena_anchor: str | None = None  # "model=rating" pins one model's rating (else the mean is 1000)
    arena_refresh_s: float = 10.0  # how often a worker picks up votes recorded by other workers
    arena_size: str = "1024x1024"
    arena_image_ttl_s: int = 90 * 86400  # how long battle images are kept
    # local diffusers pipelines (providers/local/config.py validates the section)
    local: dict[str, Any] = {}
    # blob store: the data directory by default; s3://bucket/prefix for S3-compatible storage (the s3 extra)
    blob_url: str | None = None
    blob_endpoint: str | None = None  # e.g. http://minio:9000 (default: AWS's endpoint for the region)
    blob_region: str | None = None
    blob_access_key_id: str | None = None  # default: the AWS_* environment / instance credentials
    blob_secret_access_key: str | None = Field(default=None, repr=False)
    blob_presign: bool = False  # image URLs redirect to presigned S3 URLs instead of streaming through the gateway
    # asynchronous work (imagegate/jobs): replay default, job runners, webhooks, batches
    replay_default: str = "off"  # X-Imagegate-Replay when a request sends none
    jobs_in_process: bool = True  # run jobs inside the gateway; false: only `imagegate worker` processes run them
    jobs_concurrency: int = Field(default=4, ge=1)  # jobs one runner works at a time
    jobs_lease_s: float = Field(default=60.0, gt=0)  # a runner that stops renewing for this long loses its jobs
    jobs_poll_s: float = Field(default=1.0, gt=0)  # how often a runner looks for work it was not woken for
    jobs_max_runs: int = Field(default=3, ge=1)  # starts of one job (restarts included) before it fails
    webhooks_allow_private: bool = False  # allow http, any port and private addresses for webhook URLs
    webhook_retry_delays_s: list[float] = [5.0, 15.0, 45.0]  # seconds between delivery tries
    webhook_timeout_s: float = Field(default=30.0, gt=0)  # per delivery try
    batch_concurrency: int = Field(default=8, ge=1)  # lines of one batch in flight at once (emulated batches)
    batch_max_lines: int = Field(default=50_000, ge=1)  # requests per batch file
    batch_max_file_bytes: int = Field(default=200 * 1024 * 1024, ge=1)  # POST /v1/files upload limit
    batch_provider_mode: bool = True  # batches that fit run in the Gemini API's batch mode at batch prices
    batch_poll_s: float = Field(default=30.0, gt=0)  # how often a provider batch is polled

    @model_validator(mode="before")
    @classmethod
    def _name_providers(cls, data: Any) -> Any:
        """``providers: {gemini: {...}}`` in YAML: each entry gets its name, and every known provider an entry."""
        if isinstance(data, dict) and isinstance(data.get("providers"), dict):
            named: dict[str, Any] = {}
            for name, entry in data["providers"].items():
                entry = {} if entry is None else entry
                named[name] = {"name": name, **entry} if isinstance(entry, dict) else entry
            data = {**data, "providers": named}
        return data

    def model_post_init(self, context: Any, /) -> None:
        for name in PROVIDER_ENV:
            self.providers.setdefault(name, ProviderSettings(name=name))

    @property
    def auth_enabled(self) -> bool:
        return bool(self.master_key or self.api_keys)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "imagegate.db"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def active_providers(self) -> list[str]:
        return [n for n, p in self.providers.items() if p.active]

    @classmethod
    def load(cls, config: str | Path | None = None, env: dict[str, str] | None = None, **overrides: Any) -> Settings:
        env = dict(os.environ if env is None else env)
        config = config or env.get("IMAGEGATE_CONFIG")
        data: dict[str, Any] = {}
        sources: dict[str, str] = {}
        if config:
            with open(config, encoding="utf-8") as fh:
                loaded = yaml.safe_load(fh) or {}
            if not isinstance(loaded, dict):
                raise SettingsError(f"{config}: the config file must be a mapping")
            data = loaded
            sources = {str(k): f"{config}: '{k}'" for k in data}
        _overlay_env(data, sources, env)
        for key, value in overrides.items():
            if value is not None:
                data[key] = value
                sources[key] = f"option {key}"
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise SettingsError(_describe(exc, sources)) from None


ENV_NAMES = {
    "url_ttl_s": "IMAGEGATE_URL_TTL",
    "request_timeout_s": "IMAGEGATE_REQUEST_TIMEOUT",
    "stream_keepalive_s": "IMAGEGATE_STREAM_KEEPALIVE",
    "jobs_lease_s": "IMAGEGATE_JOBS_LEASE",
    "jobs_poll_s": "IMAGEGATE_JOBS_POLL",
    "webhook_retry_delays_s": "IMAGEGATE_WEBHOOK_RETRY_DELAYS",
    "webhook_timeout_s": "IMAGEGATE_WEBHOOK_TIMEOUT",
    "batch_poll_s": "IMAGEGATE_BATCH_POLL",
    "arena_refresh_s": "IMAGEGATE_ARENA_REFRESH",
    "arena_image_ttl_s": "IMAGEGATE_ARENA_IMAGE_TTL",
}
NO_ENV = frozenset({"routing", "providers", "local", "arena_dirs"})


def env_name(field: str) -> str:
    """The environment variable of a setting."""
    return ENV_NAMES.get(field, f"IMAGEGATE_{field.upper()}")


def _overlay_env(data: dict[str, Any], sources: dict[str, str], env: dict[str, str]) -> None:
    """Environment values over the file's (empty values count as unset); pydantic converts and checks them."""
    for name, info in Settings.model_fields.items():
        if name in NO_ENV:
            continue
        var = env_name(name)
        raw = env.get(var)
        if not raw:
            continue
        is_list = getattr(info.annotation, "__origin__", None) is list
        data[name] = [part.strip() for part in raw.split(",") if part.strip()] if is_list else raw
        sources[name] = f"environment variable {var}"
    providers = data.get("providers")
    if providers is None:
        providers = data["providers"] = {}
    elif not isinstance(providers, dict):
        return  # pydantic names the problem
    for name, (key_var, url_var) in PROVIDER_ENV.items():
        entry = providers.get(name)
        if entry is None:
            entry = providers[name] = {}
        elif not isinstance(entry, dict):
            continue
        if env.get(key_var):
            entry["credentials_file" if name == "vertex" else "api_key"] = env[key_var]
            sources[f"providers.{name}.{'credentials_file' if name == 'vertex' else 'api_key'}"] = key_var
        if env.get(url_var):
            entry["base_url"] = env[url_var]
            sources[f"providers.{name}.base_url"] = f"environment variable {url_var}"
    vertex = providers.get("vertex")
    if isinstance(vertex, dict):
        for var, key in (("VERTEX_PROJECT", "project"), ("VERTEX_LOCATION", "location")):
            if env.get(var):
                vertex[key] = env[var]
                sources[f"providers.vertex.{key}"] = f"environment variable {var}"


def _describe(exc: ValidationError, sources: dict[str, str]) -> str:
    """One line per bad setting: which key, from where, what was expected, what was given (never a secret)."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        key = ".".join(loc) or "settings"
        source = sources.get(key) or sources.get(loc[0] if loc else "", "")
        where = f" (from {source})" if source else ""
        secret = any(s in key for s in ("key", "credentials"))
        given = "" if secret or err["type"] in ("extra_forbidden", "missing") else f", got {err.get('input')!r}"
        message = "unknown setting" if err["type"] == "extra_forbidden" else err["msg"].lower()
        lines.append(f"setting '{key}'{where}: {message}{given}")
    return "invalid settings:\n  " + "\n  ".join(lines)
