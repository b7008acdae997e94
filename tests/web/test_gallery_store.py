"""The gallery's tables on SQLite and PostgreSQL: publish (copy + WebP thumbnail), page, filter, remove (the blobs
expire with the entry), and playground runs that expire."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from imagegate.gallery import store
from imagegate.gallery.publish import Published, publish
from imagegate.store.blobs import LocalBlobStore
from imagegate.store.db import Database, utcnow
from imagegate.store.gallery_models import WebGenerationRow

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture
def db(sql_db: Database) -> Database:
    return sql_db  # SQLite and PostgreSQL (tests/conftest.py)


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("P", (width, height), 3).save(buf, format="PNG")
    return buf.getvalue()


async def test_publish_page_filter_and_remove(db: Database, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs", db)
    services = SimpleNamespace(db=db, blobs=blobs)
    rows = []
    for i in range(5):
        meta = Published(
            model="m-a" if i % 2 == 0 else "m-b",
            prompt=f"p{i}",
            task="image-editing" if i == 4 else "text-to-image",
            cost_micros=1000 * i,
        )
        rows.append(await publish(services, png(1200, 800), "image/png", meta, owner="key:k1"))
    first = rows[0]
    assert (first.width, first.height) == (1200, 800)
    thumb_path, mime = await blobs.open(first.thumb_token)  # type: ignore[misc]
    assert mime == "image/webp"
    with Image.open(thumb_path) as thumb:
        assert thumb.format == "WEBP" and max(thumb.size) == 384
    page1, total = store.entries(db, offset=0, limit=2)
    page2, _ = store.entries(db, offset=2, limit=2)
    page3, _ = store.entries(db, offset=4, limit=2)
    assert total == 5 and [r.prompt for r in page1 + page2 + page3] == ["p4", "p3", "p2", "p1", "p0"]
    assert store.entries(db, models=["m-a"])[1] == 3
    assert [r.prompt for r in store.entries(db, task="image-editing")[0]] == ["p4"]

    now = utcnow()
    assert store.delete_entry(db, first.id, now) is True
    assert store.delete_entry(db, first.id, now) is False
    assert await blobs.open(first.image_token) is None and await blobs.open(first.thumb_token) is None
    assert await blobs.delete_expired(now + timedelta(seconds=1)) == 2  # the sweeper deletes both files


def test_playground_runs_expire(db: Database) -> None:
    now = utcnow()

    def run(i: int, created_ago_s: int, ttl_s: int) -> WebGenerationRow:
        created = now - timedelta(seconds=created_ago_s)
        return WebGenerationRow(
            id=f"gen_{i}",
            owner="anon:x",
            created_at=created,
            expires_at=created + timedelta(seconds=ttl_s),
            model="m",
            operation="generate",
            prompt="p",
            request_json="{}",
            result_json="{}",
        )

    store.add_generation(db, run(1, 7200, 3600))  # expired an hour ago
    store.add_generation(db, run(2, 60, 3600))
    assert [r.id for r in store.generations_of(db, "anon:x", now)] == ["gen_2"]
    assert store.generations_of(db, "anon:other", now) == []
    store.add_generation(db, run(3, 0, 3600))  # storing a run deletes the expired ones
    assert store.get_generation(db, "gen_1") is None and store.get_generation(db, "gen_2") is not None
