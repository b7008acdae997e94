"""Generated images on S3-compatible storage (``blob_url: s3://bucket/prefix``), through obstore (the optional
``s3`` extra).

The same contract as ``LocalBlobStore``: the object is written first (key ``<prefix>/<first two token
chars>/<token>``), then its row in the shared ``blobs`` table, so any replica serves any image. ``open`` returns the
bytes (served through the gateway), or with ``presign`` a presigned GET URL valid until the image expires (the file
route redirects to it). Expiry is our sweeper's: ``delete_expired`` deletes the objects of expired rows, then the rows.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

from imagegate.store.blobs import PresignedUrl, valid_token
from imagegate.store.db import Database, utcnow


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")``."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"blob_url must look like s3://bucket/prefix, not {url!r}")
    return parsed.netloc, parsed.path.strip("/")


class S3BlobStore:
    def __init__(
        self,
        url: str,
        db: Database,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        presign: bool = False,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        try:
            from obstore.store import S3Store
        except ImportError:  # pragma: no cover - depends on the install
            raise RuntimeError("blob_url s3://... needs the s3 extra: pip install 'imagegate[s3]'") from None
        bucket, self.prefix = parse_s3_url(url)
        config: dict[str, str] = {}
        if endpoint:
            config["endpoint"] = endpoint
        if region:
            config["region"] = region
        if access_key_id:
            config["access_key_id"] = access_key_id
        if secret_access_key:
            config["secret_access_key"] = secret_access_key
        self._store = S3Store(
            bucket,
            config=config,  # type: ignore[arg-type]
            client_options={"allow_http": bool(endpoint and endpoint.startswith("http://"))},
        )
        self.db = db
        self.presign = presign
        self._clock = clock

    def __repr__(self) -> str:  # never the credentials
        return f"S3BlobStore(prefix={self.prefix!r}, presign={self.presign})"

    def _key(self, token: str) -> str:
        rel = f"{token[:2]}/{token}"
        return f"{self.prefix}/{rel}" if self.prefix else rel

    async def put(self, data: bytes, mime_type: str, ttl_s: int) -> str:
        import obstore

        token = secrets.token_urlsafe(32)
        key = self._key(token)
        await obstore.put_async(self._store, key, data, attributes={"Content-Type": mime_type})
        now = self._clock()
        try:
            await asyncio.to_thread(
                self.db.add_blob, token, key, mime_type, len(data), now, now + timedelta(seconds=ttl_s)
            )
        except BaseException:
            await obstore.delete_async(self._store, key)
            raise
        return token

    async def open(self, token: str) -> tuple[Path | bytes | PresignedUrl, str] | None:
        import obstore

        if not valid_token(token):
            return None
        row = await asyncio.to_thread(self.db.get_blob, token)
        now = self._clock()
        if row is None or row.expires_at <= now:
            return None
        if self.presign:
            url = await obstore.sign_async(self._store, "GET", row.path, row.expires_at - now)
            return PresignedUrl(url), row.mime_type
        try:
            got = await obstore.get_async(self._store, row.path)
        except FileNotFoundError:
            return None
        return bytes(await got.bytes_async()), row.mime_type

    async def read(self, token: str) -> tuple[bytes, str] | None:
        import obstore

        if not valid_token(token):
            return None
        row = await asyncio.to_thread(self.db.get_blob, token)
        if row is None or row.expires_at <= self._clock():
            return None
        try:
            got = await obstore.get_async(self._store, row.path)
        except FileNotFoundError:
            return None
        return bytes(await got.bytes_async()), row.mime_type

    async def delete_expired(self, now: datetime | None = None, batch: int = 1000) -> int:
        import obstore

        now = now or self._clock()
        deleted = 0
        while True:
            expired = await asyncio.to_thread(self.db.expired_blobs, now, batch)
            if not expired:
                return deleted
            await obstore.delete_async(self._store, [key for _, key in expired])  # a missing object is no error
            deleted += await asyncio.to_thread(self.db.delete_blobs, [token for token, _ in expired])
            if len(expired) < batch:
                return deleted
