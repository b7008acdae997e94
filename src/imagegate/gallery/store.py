"""Database access for playground history and published gallery entries (sync; callers use ``asyncio.to_thread``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update

from imagegate.store.db import Database
from imagegate.store.gallery_models import GalleryEntryRow, WebGenerationRow
from imagegate.store.models import BlobRow


def add_generation(db: Database, row: WebGenerationRow) -> None:
    """Store a run; runs whose images expired are deleted in the same transaction (their blobs are swept)."""
    with db.session.begin() as s:
        s.execute(delete(WebGenerationRow).where(WebGenerationRow.expires_at <= row.created_at))
        s.add(row)


def generations_of(db: Database, owner: str, now: datetime, limit: int = 24) -> list[WebGenerationRow]:
    """The owner's unexpired playground runs, newest first."""
    q = (
        select(WebGenerationRow)
        .where(WebGenerationRow.owner == owner, WebGenerationRow.expires_at > now)
        .order_by(WebGenerationRow.created_at.desc())
        .limit(limit)
    )
    with db.session() as s:
        return list(s.scalars(q))


def get_generation(db: Database, generation_id: str) -> WebGenerationRow | None:
    with db.session() as s:
        return s.get(WebGenerationRow, generation_id)


def add_entry(db: Database, row: GalleryEntryRow) -> None:
    with db.session.begin() as s:
        s.add(row)


def get_entry(db: Database, entry_id: str) -> GalleryEntryRow | None:
    with db.session() as s:
        return s.get(GalleryEntryRow, entry_id)


def delete_entry(db: Database, entry_id: str, now: datetime) -> bool:
    """Remove the entry; its image and thumbnail expire now, so the blob sweeper deletes their files."""
    with db.session.begin() as s:
        row = s.get(GalleryEntryRow, entry_id)
        if row is None:
            return False
        tokens = [row.image_token, row.thumb_token]
        s.execute(update(BlobRow).where(BlobRow.token.in_(tokens)).values(expires_at=now))
        s.delete(row)
        return True


def entries(
    db: Database, *, models: Sequence[str] | None = None, task: str | None = None, offset: int = 0, limit: int = 48
) -> tuple[list[GalleryEntryRow], int]:
    """Published entries, newest first, and how many match in all."""
    q = select(GalleryEntryRow)
    count = select(func.count()).select_from(GalleryEntryRow)
    if models is not None:
        q = q.where(GalleryEntryRow.model.in_(list(models)))
        count = count.where(GalleryEntryRow.model.in_(list(models)))
    if task:
        q = q.where(GalleryEntryRow.task == task)
        count = count.where(GalleryEntryRow.task == task)
    q = q.order_by(GalleryEntryRow.created_at.desc(), GalleryEntryRow.id.desc()).offset(offset).limit(limit)
    with db.session() as s:
        return list(s.scalars(q)), int(s.scalar(count) or 0)


def published_from(db: Database, generation_ids: Sequence[str]) -> dict[str, str]:
    """generation id -> gallery entry id, for the history's "published" marks."""
    if not generation_ids:
        return {}
    q = select(GalleryEntryRow.generation_id, GalleryEntryRow.id).where(
        GalleryEntryRow.generation_id.in_(list(generation_ids))
    )
    with db.session() as s:
        return {g: e for g, e in s.execute(q) if g}
