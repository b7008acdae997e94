"""Settings: defaults < config file (YAML) < environment (``IMAGEGATE_*`` and providers' own names).

Built once by ``Settings.load``; the app factory takes a ``Settings`` so tests build their own.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


@dataclass
class ProviderSettings:
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


def _flag(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


# provider -> (key env var, base url env var)
PROVIDER_ENV: dict[str, tuple[str, str]] = {
    "gemini": ("GEMINI_API_KEY", "IMAGEGATE_GEMINI_BASE_URL"),
    "vertex": ("GOOGLE_APPLICATION_CREDENTIALS", "IMAGEGATE_VERTEX_BASE_URL"),
    "replicate": ("REPLICATE_API_TOKEN", "IMAGEGATE_REPLICATE_BASE_URL"),
    "fal": ("FAL_KEY", "IMAGEGATE_FAL_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "IMAGEGATE_OPENAI_BASE_URL"),
}


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=lambda: Path("./data"))
    database_url: str | None = None  # default: sqlite in data_dir
    redis_url: str | None = None  # routing state shared across workers when set
    redis_prefix: str = "imagegate:router"  # key namespace, so several gateways can share one Redis
    public_base_url: str | None = None  # for image URLs; default http://host:port
    master_key: str | None = None  # IMAGEGATE_MASTER_KEY
    api_keys: list[str] = field(default_factory=list)  # IMAGEGATE_API_KEYS (comma separated)
    url_ttl_s: int = 3600  # response_format=url lifetime
    max_upload_bytes: int = 20 * 1024 * 1024  # whole multipart body
    max_image_pixels: int = 64_000_000  # decompression-bomb limit per image
    max_prompt_chars: int = 32_000
    max_n: int = 10
    max_input_images: int = 16  # per edit request, before any model's own limit
    log_prompts: bool = False
    request_timeout_s: float = 300.0  # per-request deadline across all attempts
    placeholder: str = "auto"  # auto (only when no provider is active) | on | off
    catalog_dirs: list[Path] = field(default_factory=list)  # extra catalog data dirs
    routing: dict[str, Any] = field(default_factory=dict)  # router options (policy weights, per-model)
    stats_window_days: int = 30
    workers: int = 1
    runtime_tuning: bool = True  # allocator and gc tuning in served workers (imagegate/runtime.py)
    pages_public: bool = True  # web catalog pages readable without a key (when keys are configured)
    session_secret: str | None = None  # signs the web session cookie; default: generated once into data_dir
    perf_refresh_s: float = 30.0  # how often the pages' performance rollup folds in new attempts (issue 10)
    stream_keepalive_s: float = 15.0  # SSE keep-alive comment interval; also how long a stream waits to start
    allow_private_image_urls: bool = False  # chat image_url fetches may reach private/loopback addresses
    # arena (imagegate/arena): battles, votes, ratings
    arena_dirs: list[Path] = field(default_factory=list)  # extra competition/category data files or dirs
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
    providers: dict[str, ProviderSettings] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)  # local diffusers pipelines (providers/local/config.py)
    # blob store: the data directory by default; s3://bucket/prefix for S3-compatible storage (the s3 extra)
    blob_url: str | None = None
    blob_endpoint: str | None = None  # e.g. http://minio:9000 (default: AWS's endpoint for the region)
    blob_region: str | None = None
    blob_access_key_id: str | None = None  # default: the AWS_* environment / instance credentials
    blob_secret_access_key: str | None = None
    blob_presign: bool = False  # image URLs redirect to presigned S3 URLs instead of streaming through the gateway
    # asynchronous work (imagegate/jobs): replay default, job runners, webhooks
    replay_default: str = "off"  # X-Imagegate-Replay when a request sends none
    jobs_in_process: bool = True  # run jobs inside the gateway; false: only `imagegate worker` processes run them
    jobs_concurrency: int = 4  # jobs one runner works at a time
    jobs_lease_s: float = 60.0  # a runner that stops renewing for this long loses its jobs to another
    jobs_poll_s: float = 1.0  # how often a runner looks for work it was not woken for
    jobs_max_runs: int = 3  # starts of one job (restarts included) before it fails as interrupted
    webhooks_allow_private: bool = False  # allow http, any port and private addresses for webhook URLs
    webhook_retry_delays_s: list[float] = field(default_factory=lambda: [5.0, 15.0, 45.0])
    webhook_timeout_s: float = 30.0  # per delivery try
    batch_concurrency: int = 8  # lines of one batch in flight at once (emulated batches)
    batch_max_lines: int = 50_000  # requests per batch file
    batch_max_file_bytes: int = 200 * 1024 * 1024  # POST /v1/files upload limit
    batch_provider_mode: bool = True  # batches that fit run in the Gemini API's batch mode at batch prices
    batch_poll_s: float = 30.0  # how often a provider batch is polled

    def __post_init__(self) -> None:
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
        data: dict[str, Any] = {}
        config = config or env.get("IMAGEGATE_CONFIG")
        if config:
            with open(config, encoding="utf-8") as fh:
                data = yaml.safe_load(fh) or {}
            if not isinstance(data, dict):
                raise ValueError(f"{config}: the config file must be a mapping")
        provider_data = data.pop("providers", {}) or {}
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"{config}: unknown settings {sorted(unknown)}")
        s = cls(**{k: v for k, v in data.items()})
        s.data_dir = Path(s.data_dir)
        s.catalog_dirs = [Path(p) for p in s.catalog_dirs]
        s.arena_dirs = [Path(p) for p in s.arena_dirs]
        for name, pdata in provider_data.items():
            s.providers[name] = ProviderSettings(name=name, **(pdata or {}))
        s._apply_env(env)
        for k, v in overrides.items():
            if v is not None:
                setattr(s, k, Path(v) if k == "data_dir" else v)
        return s

    def _apply_env(self, env: dict[str, str]) -> None:
        simple = {
            "IMAGEGATE_HOST": ("host", str),
            "IMAGEGATE_PORT": ("port", int),
            "IMAGEGATE_DATA_DIR": ("data_dir", Path),
            "IMAGEGATE_DATABASE_URL": ("database_url", str),
            "IMAGEGATE_REDIS_URL": ("redis_url", str),
            "IMAGEGATE_REDIS_PREFIX": ("redis_prefix", str),
            "IMAGEGATE_PUBLIC_BASE_URL": ("public_base_url", str),
            "IMAGEGATE_MASTER_KEY": ("master_key", str),
            "IMAGEGATE_URL_TTL": ("url_ttl_s", int),
            "IMAGEGATE_MAX_UPLOAD_BYTES": ("max_upload_bytes", int),
            "IMAGEGATE_MAX_IMAGE_PIXELS": ("max_image_pixels", int),
            "IMAGEGATE_LOG_PROMPTS": ("log_prompts", _flag),
            "IMAGEGATE_REQUEST_TIMEOUT": ("request_timeout_s", float),
            "IMAGEGATE_PLACEHOLDER": ("placeholder", str),
            "IMAGEGATE_WORKERS": ("workers", int),
            "IMAGEGATE_RUNTIME_TUNING": ("runtime_tuning", _flag),
            "IMAGEGATE_BLOB_URL": ("blob_url", str),
            "IMAGEGATE_BLOB_ENDPOINT": ("blob_endpoint", str),
            "IMAGEGATE_BLOB_REGION": ("blob_region", str),
            "IMAGEGATE_BLOB_ACCESS_KEY_ID": ("blob_access_key_id", str),
            "IMAGEGATE_BLOB_SECRET_ACCESS_KEY": ("blob_secret_access_key", str),
            "IMAGEGATE_BLOB_PRESIGN": ("blob_presign", _flag),
            "IMAGEGATE_PAGES_PUBLIC": ("pages_public", _flag),
            "IMAGEGATE_SESSION_SECRET": ("session_secret", str),
            "IMAGEGATE_PERF_REFRESH_S": ("perf_refresh_s", float),
            "IMAGEGATE_STREAM_KEEPALIVE": ("stream_keepalive_s", float),
            "IMAGEGATE_ALLOW_PRIVATE_IMAGE_URLS": ("allow_private_image_urls", _flag),
            "IMAGEGATE_REPLAY_DEFAULT": ("replay_default", str),
            "IMAGEGATE_JOBS_IN_PROCESS": ("jobs_in_process", _flag),
            "IMAGEGATE_JOBS_CONCURRENCY": ("jobs_concurrency", int),
            "IMAGEGATE_JOBS_LEASE": ("jobs_lease_s", float),
            "IMAGEGATE_JOBS_POLL": ("jobs_poll_s", float),
            "IMAGEGATE_JOBS_MAX_RUNS": ("jobs_max_runs", int),
            "IMAGEGATE_WEBHOOKS_ALLOW_PRIVATE": ("webhooks_allow_private", _flag),
            "IMAGEGATE_WEBHOOK_TIMEOUT": ("webhook_timeout_s", float),
            "IMAGEGATE_BATCH_CONCURRENCY": ("batch_concurrency", int),
            "IMAGEGATE_BATCH_MAX_LINES": ("batch_max_lines", int),
            "IMAGEGATE_BATCH_MAX_FILE_BYTES": ("batch_max_file_bytes", int),
            "IMAGEGATE_BATCH_PROVIDER_MODE": ("batch_provider_mode", _flag),
            "IMAGEGATE_BATCH_POLL": ("batch_poll_s", float),
            "IMAGEGATE_ARENA_SAMPLING": ("arena_sampling", str),
            "IMAGEGATE_ARENA_DAILY_SPEND_USD": ("arena_daily_spend_usd", float),
            "IMAGEGATE_ARENA_VOTES_PER_DAY": ("arena_votes_per_day", int),
            "IMAGEGATE_ARENA_POOL_SIZE": ("arena_pool_size", int),
            "IMAGEGATE_ARENA_MIN_BATTLES": ("arena_min_battles", int),
            "IMAGEGATE_ARENA_BOOTSTRAP_ROUNDS": ("arena_bootstrap_rounds", int),
            "IMAGEGATE_ARENA_SEED": ("arena_seed", int),
            "IMAGEGATE_ARENA_ANCHOR": ("arena_anchor", str),
            "IMAGEGATE_ARENA_REFRESH": ("arena_refresh_s", float),
            "IMAGEGATE_ARENA_SIZE": ("arena_size", str),
            "IMAGEGATE_ARENA_IMAGE_TTL": ("arena_image_ttl_s", int),
        }
        for var, (attr, conv) in simple.items():
            if env.get(var):
                setattr(self, attr, conv(env[var]))
        if env.get("IMAGEGATE_WEBHOOK_RETRY_DELAYS"):  # seconds between delivery tries, e.g. "5,15,45"
            delays = env["IMAGEGATE_WEBHOOK_RETRY_DELAYS"].split(",")
            self.webhook_retry_delays_s = [float(v) for v in delays if v.strip()]
        if env.get("IMAGEGATE_API_KEYS"):
            self.api_keys = [k.strip() for k in env["IMAGEGATE_API_KEYS"].split(",") if k.strip()]
        for name, (key_var, url_var) in PROVIDER_ENV.items():
            p = self.providers[name]
            if env.get(key_var):
                if name == "vertex":
                    p.credentials_file = env[key_var]
                else:
                    p.api_key = env[key_var]
            if env.get(url_var):
                p.base_url = env[url_var]
        if env.get("VERTEX_PROJECT"):
            self.providers["vertex"].project = env["VERTEX_PROJECT"]
        if env.get("VERTEX_LOCATION"):
            self.providers["vertex"].location = env["VERTEX_LOCATION"]
