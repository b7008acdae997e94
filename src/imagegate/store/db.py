"""Database access: engine set-up, migrations, and the small set of queries the gateway needs.

Why a synchronous engine: every call here is short (an indexed look-up or one batched insert), Alembic is synchronous
anyway, and the same code then runs on SQLite (pysqlite) and PostgreSQL (psycopg 3) with no async driver to install.
The rule that keeps the event loop free: code on the loop never calls these methods directly; it goes through
``asyncio.to_thread`` (the blob store, the key look-up) or a background batch writer (the request recorder), so each
request pays at most one thread hop and the request log costs one transaction per batch, not per request.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from imagegate.store.keys import display_prefix, generate_api_key, hash_api_key, new_key_id
from imagegate.store.models import ApiKeyRow, AttemptRow, BlobRow
from imagegate.store.request_log import LogWriter, Row
from imagegate.store.tenancy_rows import bump_key_version

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_PG_MIGRATION_LOCK = 0x1A6E6A7E  # pg_advisory_xact_lock key: one migrator at a time across replicas
_LAST_USED_RESOLUTION = timedelta(minutes=1)  # don't write api_keys.last_used_at on every request
SQLITE_BUSY_TIMEOUT_MS = 10_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def _is_memory_sqlite(database: str | None) -> bool:
    return not database or database == ":memory:" or database.startswith("file::memory:")


SQLITE_POOL_SIZE = 16


def make_engine(url: str) -> Engine:
    """An engine for ``url``. SQLite gets WAL, ``synchronous=NORMAL``, a busy timeout and foreign keys; its parent
    directory is created. PostgreSQL gets pre-ping so replicas survive server restarts."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        try:
            return create_engine(url, pool_pre_ping=True)
        except ModuleNotFoundError as exc:  # psycopg: the 'postgres' extra
            from imagegate.extras import missing

            raise missing("postgres", f"database_url ({parsed.get_backend_name()})", exc.name) from None
    if _is_memory_sqlite(parsed.database):
        # One shared connection, or every pooled connection would see its own empty database.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        Path(parsed.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        # Enough pooled connections for every thread that uses one at once (the event loop's executor, the request
        # log's writer, the job runner's calls): past the pool, each use would open a connection and run the
        # pragmas below again, and close it after.
        engine = create_engine(
            url,
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=2 * SQLITE_POOL_SIZE,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        try:
            if not _is_memory_sqlite(parsed.database):
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA foreign_keys=ON")
        finally:
            cur.close()

    return engine


def alembic_config() -> Config:
    """An Alembic config built in code, pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across worker processes (PostgreSQL uses an advisory lock)."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or _is_memory_sqlite(database):
        yield
        return
    lock_path = Path(database or "").expanduser().with_suffix(".migrate.lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def run_migrations(url: str | Engine) -> None:
    """Upgrade the database to the latest revision. Idempotent, and safe when several workers start at once."""
    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with _sqlite_file_lock(engine), engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            cfg = alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    finally:
        if isinstance(url, str):
            engine.dispose()


def current_revision(url: str | Engine) -> str | None:
    """The revision the database is at (``None`` before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url) if isinstance(url, str) else url
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        if isinstance(url, str):
            engine.dispose()


class Database:
    """The engine plus the gateway's queries. Every method is blocking: call it off the event loop."""

    def __init__(self, url: str | Engine) -> None:
        self.engine = make_engine(url) if isinstance(url, str) else url
        self.session: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self.request_log = LogWriter(self.engine)
        # A timestamp (unix seconds, or a datetime taken as UTC when naive) -> the request log's driver form.
        self.log_time: Callable[[float | datetime], Any] = self.request_log.timestamp

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    def __repr__(self) -> str:  # the URL may carry a password
        return f"Database({self.engine.url.render_as_string(hide_password=True)!r})"

    # -- request log -------------------------------------------------------------------------------------------

    def write_log(self, requests: Sequence[Row], attempts: Sequence[Row]) -> None:
        """Insert request and attempt rows in one transaction. Rows are tuples in ``request_log.REQUEST_COLUMNS`` /
        ``ATTEMPT_COLUMNS`` order with timestamps in ``self.log_time`` form (see ``store/request_log.py``)."""
        self.request_log.write(requests, attempts)

    def attempt_samples(self, model_id: str, since: datetime) -> list[tuple[str, str, float, float | None, int, bool]]:
        """``(provider, outcome, latency_ms, ttfb_ms, cost_micros, possibly_billed)`` of every attempt at
        ``model_id`` since ``since``."""
        stmt = (
            select(
                AttemptRow.provider,
                AttemptRow.outcome,
                AttemptRow.latency_ms,
                AttemptRow.ttfb_ms,
                AttemptRow.cost_micros,
                AttemptRow.possibly_billed,
            )  # fmt: skip
            .where(AttemptRow.model == model_id, AttemptRow.created_at >= since)
            .execution_options(yield_per=10_000)
        )
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2], r[3], r[4] or 0, bool(r[5])) for r in conn.execute(stmt)]

    # -- API keys ----------------------------------------------------------------------------------------------

    def create_api_key(self, name: str) -> tuple[str, str]:
        """Create a key; returns ``(key_id, plaintext)``. The plaintext is not stored and cannot be shown again."""
        plaintext = generate_api_key()
        row = ApiKeyRow(
            id=new_key_id(),
            name=name,
            key_hash=hash_api_key(plaintext),
            prefix=display_prefix(plaintext),
            created_at=utcnow(),
        )
        with self.session.begin() as s:
            s.add(row)
            bump_key_version(s)  # every replica's key cache learns of it at once
        return row.id, plaintext

    def verify_api_key(self, plaintext: str) -> str | None:
        """The id of the live (not revoked) key whose hash matches, else ``None``."""
        digest = hash_api_key(plaintext)
        now = utcnow()
        with self.session.begin() as s:
            row = s.scalars(select(ApiKeyRow).where(ApiKeyRow.key_hash == digest)).one_or_none()
            if row is None or row.revoked_at is not None or not hmac.compare_digest(row.key_hash, digest):
                return None
            if row.last_used_at is None or now - row.last_used_at >= _LAST_USED_RESOLUTION:
                row.last_used_at = now
            return row.id

    def has_api_keys(self) -> bool:
        """Whether any live key exists (auth turns on when one does)."""
        with self.engine.connect() as conn:
            stmt = select(func.count()).select_from(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None))
            return bool(conn.execute(stmt).scalar_one())

    def revoke_api_key(self, key_id: str) -> bool:
        with self.session.begin() as s:
            result = s.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            bump_key_version(s)
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def list_api_keys(self) -> list[ApiKeyRow]:
        with self.session() as s:
            return list(s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)))

    # -- blobs -------------------------------------------------------------------------------------------------

    def add_blob(
        self, token: str, path: str, mime_type: str, size: int, created_at: datetime, expires_at: datetime
    ) -> None:
        with self.session.begin() as s:
            s.add(
                BlobRow(
                    token=token, path=path, mime_type=mime_type, size=size, created_at=created_at, expires_at=expires_at
                )
            )

    def get_blob(self, token: str) -> BlobRow | None:
        with self.session() as s:
            return s.get(BlobRow, token)

    def expired_blobs(self, now: datetime, limit: int = 1000) -> list[tuple[str, str]]:
        """``(token, path)`` of up to ``limit`` blobs whose expiry is at or before ``now``."""
        stmt = select(BlobRow.token, BlobRow.path).where(BlobRow.expires_at <= now).limit(limit)
        with self.engine.connect() as conn:
            return [(r[0], r[1]) for r in conn.execute(stmt)]

    def delete_blobs(self, tokens: Sequence[str]) -> int:
        if not tokens:
            return 0
        with self.engine.begin() as conn:
            return conn.execute(delete(BlobRow).where(BlobRow.token.in_(list(tokens)))).rowcount
