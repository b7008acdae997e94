"""Tables of the playground and the gallery (migration ``0008_gallery``).

``web_generations``: one row per playground run, owned by a key or an anonymous browser session, kept until its images
expire (``url_ttl_s``). ``gallery_entries``: a published image, copied out of the expiring store into blobs that do not
expire, with its WebP thumbnail.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from imagegate.store.models import Base, UTCDateTime


class WebGenerationRow(Base):
    """A playground run: the request as sent, the answer's metadata, the image URLs (expiring with their blobs)."""

    __tablename__ = "web_generations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(80), index=True)  # "key:<id>" or "anon:<session id digest>"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    model: Mapped[str] = mapped_column(String(200))
    operation: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    request_json: Mapped[str] = mapped_column(Text)  # the fields sent (never the key)
    result_json: Mapped[str] = mapped_column(Text)  # the answer without base64: metadata + image URLs


class GalleryEntryRow(Base):
    """A gallery image: published from the playground or the API (``source`` = "published")."""

    __tablename__ = "gallery_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    source: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str | None] = mapped_column(String(80), index=True)
    model: Mapped[str] = mapped_column(String(200), index=True)  # catalog id
    task: Mapped[str] = mapped_column(String(32))  # text-to-image | image-editing
    prompt: Mapped[str] = mapped_column(Text)
    provider: Mapped[str | None] = mapped_column(String(64))
    executed_model: Mapped[str | None] = mapped_column(String(260))
    size: Mapped[str | None] = mapped_column(String(32))
    cost_micros: Mapped[int | None] = mapped_column(BigInteger)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    image_token: Mapped[str] = mapped_column(String(64))
    image_mime: Mapped[str] = mapped_column(String(64))
    thumb_token: Mapped[str] = mapped_column(String(64))
    generation_id: Mapped[str | None] = mapped_column(String(64))
