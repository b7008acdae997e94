"""Tables of asynchronous work (``imagegate.jobs``): recordings, jobs, webhook deliveries and secrets.

Registered on the same ``Base`` as ``store/models.py`` (which imports this module), created by migration
``0005_jobs``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from imagegate.store.models import Base, UTCDateTime


class RecordingRow(Base):
    """A recorded answer: the body's metadata as JSON, its images as blob tokens that never expire."""

    __tablename__ = "recordings"
    __table_args__ = (
        Index("ix_recordings_owner_canonical", "owner", "canonical_hash"),
        Index("ix_recordings_owner_body", "owner", "body_hash"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)  # the API key id ("" under open access)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    operation: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    canonical_hash: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str | None] = mapped_column(String(64))
    canonical: Mapped[str] = mapped_column(Text)  # the canonical request as JSON (for fields: matching)
    answer: Mapped[str] = mapped_column(Text)  # the answer's body without its images, JSON
    images: Mapped[str] = mapped_column(Text)  # JSON list of {"token", "mime_type"}


class JobRow(Base):
    """One asynchronous generation or edit. ``lease_until`` is how long its current runner owns it."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))  # queued | running | succeeded | failed | cancelled
    operation: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(200))
    request: Mapped[bytes] = mapped_column(LargeBinary)  # the canonical request (jobs/codec.py), JSON
    replay: Mapped[str | None] = mapped_column(String(300))  # replay mode and match, "mode|match"
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    runner: Mapped[str | None] = mapped_column(String(64))
    runs: Mapped[int] = mapped_column(Integer, default=0)
    result: Mapped[bytes | None] = mapped_column(LargeBinary)  # the Images API answer, JSON
    error: Mapped[str | None] = mapped_column(Text)  # {"code","message","status"} JSON
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)


class WebhookDeliveryRow(Base):
    """One event to deliver to a job's webhook URL; retried on its schedule until delivered or failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the webhook-id (msg_...)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    owner: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivering | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WebhookSecretRow(Base):
    """The ``whsec_`` signing secret of one API key. Kept in clear (signing needs it), shown to the client once."""

    __tablename__ = "webhook_secrets"

    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FileRow(Base):
    """An uploaded file (``purpose=batch``) or a batch's output or error file, kept on disk under the data dir."""

    __tablename__ = "files"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # batch | batch_output
    filename: Mapped[str] = mapped_column(String(256))
    bytes: Mapped[int] = mapped_column(BigInteger)
    path: Mapped[str] = mapped_column(String(512))  # relative to the files directory
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BatchRow(Base):
    """One batch (OpenAI's Batch API shape), claimed and leased by a runner like a job."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_status_created", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    endpoint: Mapped[str] = mapped_column(String(64))
    input_file_id: Mapped[str] = mapped_column(String(64))
    completion_window: Mapped[str] = mapped_column(String(16))
    meta: Mapped[str | None] = mapped_column(Text)  # the client's metadata, JSON
    errors: Mapped[str | None] = mapped_column(Text)  # validation errors, JSON list
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    in_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finalizing_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelling_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    output_file_id: Mapped[str | None] = mapped_column(String(64))
    error_file_id: Mapped[str | None] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    estimate_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_micros: Mapped[int] = mapped_column(BigInteger, default=0)
    runner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    runs: Mapped[int] = mapped_column(Integer, default=0)
    mode: Mapped[str] = mapped_column(String(16), default="emulated")  # emulated | gemini (provider batch mode)
    provider_batch: Mapped[str | None] = mapped_column(String(128))  # the provider's batch name, once submitted
