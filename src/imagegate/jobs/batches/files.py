"""Files (``POST /v1/files``): JSONL inputs and the batches' output and error files, on disk under
``<data_dir>/files``, described by rows of the ``files`` table. Blocking methods."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Any

from sqlalchemy import select

from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import FileRow


def new_file_id() -> str:
    return "file-" + secrets.token_hex(12)


def file_json(row: FileRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": int(row.created_at.timestamp()),
        "filename": row.filename,
        "purpose": row.purpose,
        "status": "processed",
    }


class FileStore:
    def __init__(self, db: Database, directory: Path) -> None:
        self.db = db
        self.directory = Path(directory)

    def path(self, row: FileRow) -> Path:
        return self.directory / row.path

    def scratch(self, name: str) -> Path:
        """A path in the files directory for a file being written (an upload, a batch's output)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        return self.directory / name

    def add(self, owner: str, purpose: str, filename: str, path: Path, file_id: str | None = None) -> FileRow:
        """Register ``path`` (already in the files directory) as a file."""
        row = FileRow(
            id=file_id or new_file_id(),
            owner=owner,
            purpose=purpose,
            filename=filename[:256],
            bytes=path.stat().st_size,
            path=str(path.relative_to(self.directory)),
            created_at=utcnow(),
        )
        with self.db.session.begin() as s:
            s.add(row)
        return row

    def get(self, file_id: str, owner: str) -> FileRow | None:
        with self.db.session() as s:
            row = s.get(FileRow, file_id)
            return row if row is not None and row.owner == owner else None

    def list(self, owner: str, purpose: str | None = None, limit: int = 100) -> list[FileRow]:
        stmt = select(FileRow).where(FileRow.owner == owner)
        if purpose:
            stmt = stmt.where(FileRow.purpose == purpose)
        with self.db.session() as s:
            return list(s.scalars(stmt.order_by(FileRow.created_at.desc()).limit(limit)))

    def delete(self, file_id: str, owner: str) -> bool:
        row = self.get(file_id, owner)
        if row is None:
            return False
        with self.db.session.begin() as s:
            s.delete(s.get(FileRow, file_id))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(row))
        return True
