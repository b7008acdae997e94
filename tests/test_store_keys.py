"""API keys: only the SHA-256 is stored, verification by hash, revocation."""

from __future__ import annotations

import hashlib

from sqlalchemy import text

from imagegate.store.db import Database


def test_create_and_verify(db: Database) -> None:
    assert db.has_api_keys() is False
    key_id, plaintext = db.create_api_key("ci")
    assert key_id.startswith("key_")
    assert plaintext.startswith("ig-") and len(plaintext) == 3 + 43
    assert db.has_api_keys() is True
    assert db.verify_api_key(plaintext) == key_id
    assert db.verify_api_key(plaintext + "x") is None
    assert db.verify_api_key("") is None
    other_id, other = db.create_api_key("second")
    assert other != plaintext and other_id != key_id
    assert db.verify_api_key(other) == other_id


def test_plaintext_is_never_stored(db: Database, tmp_path) -> None:
    key_id, plaintext = db.create_api_key("ci")
    db.verify_api_key(plaintext)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    assert row["key_hash"] == hashlib.sha256(plaintext.encode()).hexdigest()
    assert row["prefix"] == plaintext[:8]
    secret_part = plaintext[8:]
    assert all(secret_part not in str(v) for v in row.values())
    db.dispose()  # checkpoint WAL, then look at every byte on disk
    for path in tmp_path.iterdir():
        if path.is_file():
            assert secret_part.encode() not in path.read_bytes(), path.name


def test_revoked_key_no_longer_verifies(db: Database) -> None:
    key_id, plaintext = db.create_api_key("old")
    assert db.revoke_api_key(key_id) is True
    assert db.revoke_api_key(key_id) is False
    assert db.verify_api_key(plaintext) is None
    assert db.has_api_keys() is False
    [listed] = db.list_api_keys()
    assert listed.id == key_id and listed.revoked_at is not None


def test_last_used_is_recorded(db: Database) -> None:
    key_id, plaintext = db.create_api_key("ci")
    assert db.list_api_keys()[0].last_used_at is None
    db.verify_api_key(plaintext)
    used = db.list_api_keys()[0].last_used_at
    assert used is not None and used.tzinfo is not None
