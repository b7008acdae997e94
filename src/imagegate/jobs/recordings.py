"""Recordings in the database and their images in the blob store (which never expire while the recording lives).

Every method is blocking: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import delete, select, update

from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import RecordingRow
from imagegate.store.models import BlobRow

# A recording's images are blobs whose expiry is this far away; deleting the recording expires them now.
RECORDING_BLOB_TTL_S = 100 * 365 * 24 * 3600
FIELDS_SCAN_LIMIT = 1000  # fields: matching compares the newest recordings of the key, at most this many


@dataclass(slots=True)
class Recording:
    id: str
    owner: str
    created_at: float
    operation: str
    model: str
    canonical: dict[str, Any]
    answer: dict[str, Any]
    images: list[dict[str, str]]  # {"token", "mime_type"}

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "recording",
            "created_at": int(self.created_at),
            "operation": self.operation,
            "model": self.model,
            "prompt": self.canonical.get("prompt"),
            "images": len(self.images),
            "provider": (self.answer.get("metadata") or {}).get("provider"),
        }


def new_recording_id() -> str:
    return "rec_" + secrets.token_hex(12)


def _from_row(row: RecordingRow) -> Recording:
    return Recording(
        id=row.id,
        owner=row.owner,
        created_at=row.created_at.timestamp(),
        operation=row.operation,
        model=row.model,
        canonical=orjson.loads(row.canonical),
        answer=orjson.loads(row.answer),
        images=orjson.loads(row.images),
    )


class RecordingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        owner: str,
        canonical: dict[str, Any],
        canonical_hash: str,
        body_hash: str | None,
        answer: dict[str, Any],
        images: list[dict[str, str]],
    ) -> str:
        rec_id = new_recording_id()
        row = RecordingRow(
            id=rec_id,
            owner=owner,
            created_at=utcnow(),
            operation=canonical["operation"],
            model=canonical["model"],
            canonical_hash=canonical_hash,
            body_hash=body_hash,
            canonical=orjson.dumps(canonical).decode(),
            answer=orjson.dumps(answer).decode(),
            images=orjson.dumps(images).decode(),
        )
        with self.db.session.begin() as s:
            s.add(row)
        return rec_id

    def _first(self, stmt: Any) -> Recording | None:
        with self.db.session() as s:
            row = s.scalars(stmt.order_by(RecordingRow.created_at.desc()).limit(1)).first()
            return _from_row(row) if row is not None else None

    def by_canonical(self, owner: str, digest: str) -> Recording | None:
        return self._first(
            select(RecordingRow).where(RecordingRow.owner == owner, RecordingRow.canonical_hash == digest)
        )

    def by_body(self, owner: str, digest: str) -> Recording | None:
        return self._first(select(RecordingRow).where(RecordingRow.owner == owner, RecordingRow.body_hash == digest))

    def by_id(self, owner: str, rec_id: str) -> Recording | None:
        return self._first(select(RecordingRow).where(RecordingRow.owner == owner, RecordingRow.id == rec_id))

    def recent(self, owner: str, operation: str | None = None, limit: int = FIELDS_SCAN_LIMIT) -> list[Recording]:
        stmt = select(RecordingRow).where(RecordingRow.owner == owner)
        if operation:
            stmt = stmt.where(RecordingRow.operation == operation)
        with self.db.session() as s:
            rows = s.scalars(stmt.order_by(RecordingRow.created_at.desc()).limit(limit))
            return [_from_row(r) for r in rows]

    def delete(self, owner: str, rec_id: str) -> bool:
        """Delete the recording; its images expire now and the blob sweeper removes their files."""
        with self.db.session.begin() as s:
            row = s.scalars(
                select(RecordingRow).where(RecordingRow.owner == owner, RecordingRow.id == rec_id)
            ).one_or_none()
            if row is None:
                return False
            tokens = [i["token"] for i in orjson.loads(row.images)]
            s.execute(delete(RecordingRow).where(RecordingRow.id == rec_id))
            if tokens:
                expired = utcnow() - timedelta(seconds=1)
                s.execute(update(BlobRow).where(BlobRow.token.in_(tokens)).values(expires_at=expired))
            return True
