"""Local blob store: atomic sharded files, expiring tokens, sweeping of expired files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from imagegate.store.blobs import LocalBlobStore
from imagegate.store.db import Database

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path, db: Database, clock: Clock) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs", db, clock=clock)


async def test_put_then_open(store: LocalBlobStore, tmp_path) -> None:
    token = await store.put(b"\x89PNG fake", "image/png", 60)
    assert len(token) == 43
    found = await store.open(token)
    assert found is not None
    path, mime = found
    assert isinstance(path, Path) and path.read_bytes() == b"\x89PNG fake"
    assert mime == "image/png"
    assert path.parent.name == token[:2] and path.name == token  # sharded, named by token
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no temporary file left behind
    other = await store.put(b"second", "image/webp", 60)
    assert other != token


async def test_unknown_and_malformed_tokens(store: LocalBlobStore) -> None:
    assert await store.open("A" * 43) is None
    assert await store.open("../../etc/passwd") is None
    assert await store.open("") is None


async def test_expired_blob_is_not_served_and_gets_deleted(store: LocalBlobStore, clock: Clock, db: Database) -> None:
    short = await store.put(b"short", "image/png", 60)
    long = await store.put(b"long", "image/jpeg", 3600)
    short_path = (await store.open(short))[0]
    clock.now = T0 + timedelta(seconds=61)
    assert await store.open(short) is None  # expired: never served, even before the sweep
    assert await store.open(long) is not None
    assert await store.delete_expired(now=T0 + timedelta(seconds=30)) == 0  # injected time: nothing expired yet
    assert short_path.exists()
    assert await store.delete_expired() == 1  # the store's clock: T0 + 61 s
    assert not short_path.exists()
    assert db.get_blob(short) is None
    assert await store.delete_expired(now=T0 + timedelta(hours=2)) == 1
    assert await store.open(long) is None
    assert await store.delete_expired(now=T0 + timedelta(hours=3)) == 0


async def test_sweep_tolerates_a_file_already_gone(store: LocalBlobStore, clock: Clock) -> None:
    token = await store.put(b"x", "image/png", 1)
    path = (await store.open(token))[0]
    os.unlink(path)
    assert await store.open(token) is None  # row without file: not found, not a crash
    assert await store.delete_expired(now=T0 + timedelta(seconds=5)) == 1


def test_many_expired_are_swept_in_batches(store: LocalBlobStore) -> None:
    tokens = [store._put(bytes([i]), "image/png", 10) for i in range(25)]
    assert store._delete_expired(T0 + timedelta(seconds=11), batch=7) == len(tokens)
    assert not [p for p in store.directory.rglob("*") if p.is_file()]
