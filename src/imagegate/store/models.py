"""Database tables (SQLAlchemy 2 typed models).

The schema itself is created and evolved by the Alembic migrations in ``store/migrations``; these models describe it
for queries and must stay in step with the latest revision (``tests/test_store_migrations.py`` checks that).

All timestamps are UTC. ``UTCDateTime`` stores them as ``timestamptz`` on PostgreSQL and as naive UTC text on SQLite
(SQLite has no time zones) and always hands back timezone-aware UTC datetimes, so comparisons work on both.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Float, Index, Integer, MetaData, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A datetime column that accepts naive (taken as UTC) or aware datetimes and returns aware UTC ones."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # SQLite's DATETIME ignores tzinfo when formatting: hand it naive UTC so stored text sorts correctly.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RequestRow(Base):
    """One client request (successful, failed or dry run), written by the request recorder."""

    __tablename__ = "requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    key_id: Mapped[str | None] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(200))  # as requested (alias allowed)
    model_id: Mapped[str | None] = mapped_column(String(200))  # resolved catalog id
    operation: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(64))  # the one that answered
    provider_model_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[int] = mapped_column(Integer)
    error_class: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    image_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts_count: Mapped[int] = mapped_column(Integer, default=0)
    prompt: Mapped[str | None] = mapped_column(Text)  # only when prompt logging is on
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    user: Mapped[str | None] = mapped_column(String(256))


class AttemptRow(Base):
    """One upstream call made for a request: the raw material of per-provider latency and success stats."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_model_provider_created", "model", "provider", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), index=True)  # no FK: the log is append-only, keep it fast
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    model: Mapped[str | None] = mapped_column(String(200))  # resolved catalog id
    provider: Mapped[str] = mapped_column(String(64), index=True)
    provider_model_id: Mapped[str] = mapped_column(String(200))
    outcome: Mapped[str] = mapped_column(String(64))  # "success" or an error class name
    status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    latency_ms: Mapped[float] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    hedged: Mapped[bool] = mapped_column(Boolean, default=False)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    image_bytes: Mapped[int] = mapped_column(BigInteger, default=0)


class ApiKeyRow(Base):
    """A client API key. Only its SHA-256 is stored; the plaintext is shown once, at creation."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class BlobRow(Base):
    """A stored image, served at an unguessable URL until ``expires_at``."""

    __tablename__ = "blobs"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(512))  # relative to the blob store's root (or an object key)
    mime_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
