"""API key material: generation and hashing. Only the SHA-256 of a key is ever stored.

SHA-256 (not a slow password hash) is right here: keys are 256 random bits, so there is nothing to brute-force, and
verification runs on every request. Look-up is by hash, so timing reveals nothing about the plaintext.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "ig-"
DISPLAY_PREFIX_CHARS = 8


def generate_api_key() -> str:
    """A new plaintext key: ``ig-`` + 43 url-safe characters (32 random bytes)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(plaintext: str) -> str:
    """Hex SHA-256 of the key, as stored in ``api_keys.key_hash``."""
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    """A public, non-secret identifier such as ``key_3f9a1c0b2e7d``."""
    return "key_" + secrets.token_hex(6)


def display_prefix(plaintext: str) -> str:
    """The first characters of a key, safe to show in listings so users can tell keys apart."""
    return plaintext[:DISPLAY_PREFIX_CHARS]
