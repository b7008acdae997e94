"""Generated images kept for a while and served at unguessable, expiring URLs (``/files/<token>.<ext>``).

``BlobStore`` is the seam: ``LocalBlobStore`` (files in the data directory, expiry in the ``blobs`` table) is the
default; an S3-compatible store implements the same three methods later (``put`` uploads the object with the token as
key, ``open`` returns the bytes, or the API may redirect to a presigned URL, ``delete_expired`` deletes objects whose
row expired), so the pipeline and the file route never change.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from imagegate.store.db import Database, utcnow

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")  # url-safe base64: never a path separator or a dot


class BlobStore(Protocol):
    async def put(self, data: bytes, mime_type: str, ttl_s: int) -> str:
        """Store ``data`` for ``ttl_s`` seconds; returns the unguessable token that names it."""
        ...

    async def open(self, token: str) -> tuple[Path | bytes | PresignedUrl, str] | None:
        """``(file path, bytes or a presigned URL, mime type)``, or ``None`` when the token is unknown or expired."""
        ...

    async def read(self, token: str) -> tuple[bytes, str] | None:
        """The image's bytes and mime type, whatever ``open`` would serve (for copies: replays, the gallery)."""
        ...

    async def delete_expired(self, now: datetime | None = None) -> int:
        """Delete everything expired at ``now`` (default: the current time); returns how many were deleted."""
        ...


class PresignedUrl(str):
    """A URL the image can be fetched from directly (a presigned S3 GET): the file route redirects to it."""


def valid_token(token: str) -> bool:
    return bool(_TOKEN_RE.match(token))


class LocalBlobStore:
    """Files under ``directory/<first two token chars>/<token>``, written atomically (temporary file + rename).

    The file is written before its row, so a row never points at a missing file; a row is deleted only after its
    file. Blocking work (file system, database) runs in a thread.
    """

    def __init__(self, directory: Path, db: Database, clock: Callable[[], datetime] = utcnow) -> None:
        self.directory = Path(directory)
        self.db = db
        self._clock = clock

    def _relative_path(self, token: str) -> str:
        return f"{token[:2]}/{token}"

    async def put(self, data: bytes, mime_type: str, ttl_s: int) -> str:
        return await asyncio.to_thread(self._put, data, mime_type, ttl_s)

    def _put(self, data: bytes, mime_type: str, ttl_s: int) -> str:
        token = secrets.token_urlsafe(32)
        rel = self._relative_path(token)
        final = self.directory / rel
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{token}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        now = self._clock()
        try:
            self.db.add_blob(token, rel, mime_type, len(data), now, now + timedelta(seconds=ttl_s))
        except BaseException:
            with contextlib.suppress(OSError):
                final.unlink()
            raise
        return token

    async def open(self, token: str) -> tuple[Path | bytes, str] | None:
        if not valid_token(token):  # tokens come from URLs: refuse anything that is not one of ours
            return None
        return await asyncio.to_thread(self._open, token)

    async def read(self, token: str) -> tuple[bytes, str] | None:
        found = await self.open(token)
        if found is None:
            return None
        path, mime = found
        return (await asyncio.to_thread(path.read_bytes) if isinstance(path, Path) else path), mime

    def _open(self, token: str) -> tuple[Path | bytes, str] | None:
        row = self.db.get_blob(token)
        if row is None or row.expires_at <= self._clock():
            return None
        path = self.directory / row.path
        if not path.is_file():
            return None
        return path, row.mime_type

    async def delete_expired(self, now: datetime | None = None) -> int:
        return await asyncio.to_thread(self._delete_expired, now or self._clock())

    def _delete_expired(self, now: datetime, batch: int = 1000) -> int:
        deleted = 0
        while True:
            expired = self.db.expired_blobs(now, limit=batch)
            if not expired:
                return deleted
            for _token, rel in expired:
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / rel).unlink()
            deleted += self.db.delete_blobs([token for token, _ in expired])
            if len(expired) < batch:
                return deleted
