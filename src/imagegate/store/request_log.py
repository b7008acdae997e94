"""Bulk inserts of the request log with each driver's cheapest path, bypassing SQLAlchemy Core.

The request log is the one write on every request, so it skips Core's per-row parameter processing (which cost about
50 us of GIL-holding CPU per logged request) and talks to the DBAPI connection directly:

- SQLite: multi-row ``INSERT ... VALUES (...), (...)`` statements of up to 256 rows (a power of two, so at most nine
  distinct statements per table are ever compiled, and the sqlite3 module's statement cache keeps them). One
  ``execute`` runs one ``sqlite3_step``, which sqlite3 runs with the GIL released: the whole B-tree and index work of
  a chunk happens off the GIL. ``executemany`` would release and re-acquire the GIL once per row instead, and under a
  busy event loop every re-acquisition waits for the interpreter's switch interval (5 ms).
- PostgreSQL (psycopg 3): ``COPY ... FROM STDIN``, rows formatted by psycopg's C extension; about four times less
  client CPU than ``executemany`` in pipeline mode.
- Any other dialect: SQLAlchemy Core ``executemany``.

Rows are plain tuples in ``REQUEST_COLUMNS`` / ``ATTEMPT_COLUMNS`` order, their timestamps already in the driver's
form (``LogWriter.timestamp``). Driver errors are re-raised as SQLAlchemy's exception classes (``IntegrityError``,
``DataError``, ``OperationalError``...), without parameters, so callers handle one family whatever the path.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert
from sqlalchemy.exc import DBAPIError

from imagegate.store.models import AttemptRow, RequestRow

REQUEST_COLUMNS: tuple[str, ...] = (
    "id",
    "created_at",
    "key_id",
    "model",
    "model_id",
    "operation",
    "provider",
    "provider_model_id",
    "status",
    "error_class",
    "error_message",
    "latency_ms",
    "ttfb_ms",
    "cost_micros",
    "image_count",
    "image_bytes",
    "attempts_count",
    "prompt",
    "dry_run",
    "user",
)
ATTEMPT_COLUMNS: tuple[str, ...] = (
    "request_id",
    "created_at",
    "model",
    "provider",
    "provider_model_id",
    "outcome",
    "status",
    "error",
    "latency_ms",
    "ttfb_ms",
    "cost_micros",
    "hedged",
    "image_count",
    "image_bytes",
    "possibly_billed",
    "limit_hit",
)
_MAX_CHUNK_ROWS = 256  # rows per SQLite statement: bounds the GIL-holding bind phase (~0.3 ms) between releases

Row = Sequence[Any]
Timestamp = Callable[[float | datetime], Any]


def _quoted(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)  # "user" is reserved on PostgreSQL


class SqliteTimestamps:
    """Unix seconds (or a datetime) -> the naive-UTC text SQLAlchemy's SQLite ``DATETIME`` stores
    (``YYYY-MM-DD HH:MM:SS.ffffff``), three times cheaper than ``datetime.isoformat``: the text up to the second is
    cached per second (bounded), and microseconds are rounded half-even like ``datetime.fromtimestamp``."""

    def __init__(self, max_cached: int = 4096) -> None:
        self._seconds: dict[float, str] = {}
        self._max_cached = max_cached

    def __call__(self, value: float | datetime) -> str:
        if isinstance(value, datetime):
            value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        frac, whole = math.modf(value)
        micros = round(frac * 1e6)
        if micros >= 1_000_000:
            whole += 1
            micros -= 1_000_000
        elif micros < 0:
            whole -= 1
            micros += 1_000_000
        prefix = self._seconds.get(whole)
        if prefix is None:
            if len(self._seconds) >= self._max_cached:
                self._seconds.clear()
            prefix = self._seconds[whole] = datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%d %H:%M:%S.")
        return f"{prefix}{micros:06d}"


def aware_utc(value: float | datetime) -> datetime:
    """Unix seconds (or a datetime, naive taken as UTC) -> an aware UTC datetime (PostgreSQL ``timestamptz``)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.fromtimestamp(value, UTC)


class LogWriter:
    """Writes request and attempt rows in one transaction. Blocking: call it from a worker thread."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.timestamp: Timestamp = SqliteTimestamps() if self.dialect == "sqlite" else aware_utc
        self._sqlite_sql: dict[tuple[str, int], str] = {}  # (table, rows) -> multi-row INSERT text

    def write(self, requests: Sequence[Row], attempts: Sequence[Row]) -> None:
        if not requests and not attempts:
            return
        if self.dialect not in ("sqlite", "postgresql"):
            self._write_core(requests, attempts)
            return
        dbapi_error: type[Exception] = self.engine.dialect.loaded_dbapi.Error
        raw = self.engine.raw_connection()
        try:
            cursor = raw.cursor()
            try:
                if self.dialect == "sqlite":
                    self._sqlite_insert(cursor, "requests", REQUEST_COLUMNS, requests)
                    self._sqlite_insert(cursor, "attempts", ATTEMPT_COLUMNS, attempts)
                else:
                    self._pg_copy(cursor, "requests", REQUEST_COLUMNS, requests)
                    self._pg_copy(cursor, "attempts", ATTEMPT_COLUMNS, attempts)
            finally:
                cursor.close()
            raw.commit()
        except dbapi_error as exc:
            invalidated = self._recover(raw, exc)
            raise DBAPIError.instance(
                f"INSERT INTO requests, attempts ({len(requests)} + {len(attempts)} rows)",
                None,
                exc,
                dbapi_error,
                hide_parameters=True,
                connection_invalidated=invalidated,
                dialect=self.engine.dialect,
            ) from exc
        finally:
            raw.close()  # back to the pool (or discarded when invalidated)

    def _recover(self, raw: Any, exc: Exception) -> bool:
        """Roll back after a failed write; drop the connection when it is gone. Returns whether it was dropped."""
        if self.engine.dialect.is_disconnect(exc, raw, None):  # type: ignore[arg-type]  # any DBAPI error
            raw.invalidate()
            return True
        try:
            raw.rollback()
        except Exception:
            raw.invalidate()
            return True
        return False

    def _sqlite_insert(self, cursor: Any, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        """Multi-row INSERTs in chunks of ``_MAX_CHUNK_ROWS``; the remainder in power-of-two chunks."""
        limit = min(_MAX_CHUNK_ROWS, 32_766 // len(columns))  # SQLite's default bound on parameters per statement
        chunk = 1 << (limit.bit_length() - 1)
        done, total = 0, len(rows)
        while done < total:
            size = min(chunk, total - done)
            size = 1 << (size.bit_length() - 1)
            cursor.execute(
                self._sqlite_statement(table, columns, size),
                list(itertools.chain.from_iterable(rows[done : done + size])),
            )
            done += size

    def _sqlite_statement(self, table: str, columns: tuple[str, ...], rows: int) -> str:
        sql = self._sqlite_sql.get((table, rows))
        if sql is None:
            one = "(" + ", ".join("?" * len(columns)) + ")"
            sql = f"INSERT INTO {table} ({_quoted(columns)}) VALUES " + ", ".join([one] * rows)
            self._sqlite_sql[(table, rows)] = sql
        return sql

    @staticmethod
    def _pg_copy(cursor: Any, table: str, columns: tuple[str, ...], rows: Sequence[Row]) -> None:
        if not rows:
            return
        with cursor.copy(f"COPY {table} ({_quoted(columns)}) FROM STDIN") as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    def _write_core(self, requests: Sequence[Row], attempts: Sequence[Row]) -> None:
        with self.engine.begin() as conn:
            for table, columns, rows in (
                (RequestRow.__table__, REQUEST_COLUMNS, requests),
                (AttemptRow.__table__, ATTEMPT_COLUMNS, attempts),
            ):
                if rows:
                    conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])  # type: ignore[arg-type]
