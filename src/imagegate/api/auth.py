"""Bearer-token authentication for the API routes.

Keys come from settings (a master key, plain API keys) or from the database (hashed, see
``imagegate.store``). With none configured, auth is off and the server binds to loopback only.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from imagegate.core.errors import AuthenticationFailed

KeyLookup = Callable[[str], Awaitable[str | None]]  # plaintext -> key id (database keys)


class Authenticator:
    def __init__(self, master_key: str | None, api_keys: list[str], lookup: KeyLookup | None = None) -> None:
        # Compare digests, never store configured plaintexts beyond start-up.
        self._static = {
            hashlib.sha256(k.encode()).digest(): ("master" if k == master_key else f"static-{i}")
            for i, k in enumerate([*([master_key] if master_key else []), *api_keys])
        }
        self._lookup = lookup
        # Database keys verified recently: digest -> (key id, expiry). Keeps the database off the hot path;
        # a revoked key stops working within ``cache_ttl_s``.
        self._cache: dict[bytes, tuple[str, float]] = {}
        self.cache_ttl_s = 30.0
        self.enabled = bool(self._static) or lookup is not None

    async def authenticate(self, authorization: str | None) -> str | None:
        """Return the key id, or raise ``AuthenticationFailed``. ``None`` when auth is off."""
        if not self.enabled:
            return None
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>'.")
        token = authorization[7:].strip()
        digest = hashlib.sha256(token.encode()).digest()
        for known, static_id in self._static.items():
            if hmac.compare_digest(known, digest):
                return static_id
        if self._lookup is not None:
            cached = self._cache.get(digest)
            now = time.monotonic()
            if cached is not None and cached[1] > now:
                return cached[0]
            key_id = await self._lookup(token)
            if key_id:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (key_id, now + self.cache_ttl_s)
                return key_id
        raise AuthenticationFailed("Invalid API key.")
