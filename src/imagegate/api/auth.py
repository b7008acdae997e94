"""Bearer-token authentication for the API routes.

Keys come from settings (a master key, plain API keys) or from the database (hashed, with a policy; see
``imagegate.tenancy``). Database keys are looked up through a ``KeyDirectory`` that every replica keeps fresh: a new
key works at once, a revoked one is refused within 1 s, without a restart. With no key configured anywhere, auth is
off (and the server binds to loopback only); it turns on as soon as a database key exists.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Protocol

from imagegate.core.errors import AuthenticationFailed
from imagegate.tenancy.policy import MASTER, KeyPolicy, Principal


class KeyLookup(Protocol):
    async def lookup(self, token: str) -> KeyPolicy | None: ...

    async def has_live_keys(self) -> bool: ...


class Authenticator:
    def __init__(
        self,
        master_key: str | None,
        api_keys: list[str],
        directory: KeyLookup | None = None,
        *,
        has_db_keys: bool = False,
    ) -> None:
        # Compare digests, never store configured plaintexts beyond start-up.
        self._static = {
            hashlib.sha256(k.encode()).digest(): (MASTER if k == master_key else f"static-{i}")
            for i, k in enumerate([*([master_key] if master_key else []), *api_keys])
        }
        self._directory = directory
        self.enabled = bool(self._static) or has_db_keys  # at start-up (the banner); database keys may come later

    async def identify(self, authorization: str | None) -> Principal | None:
        """The caller, or raise ``AuthenticationFailed``. ``None`` when auth is off."""
        if not self._static and (self._directory is None or not await self._directory.has_live_keys()):
            return None
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthenticationFailed("Missing API key: send 'Authorization: Bearer <key>'.")
        token = authorization[7:].strip()
        digest = hashlib.sha256(token.encode()).digest()
        for known, key_id in self._static.items():
            if hmac.compare_digest(known, digest):
                return Principal(key_id)
        if self._directory is not None and token:
            policy = await self._directory.lookup(token)
            if policy is not None:
                if policy.expired(datetime.now(UTC)):
                    raise AuthenticationFailed("This API key has expired.")
                return Principal(policy.key_id, policy)
        raise AuthenticationFailed("Invalid API key.")

    async def authenticate(self, authorization: str | None) -> str | None:
        """The caller's key id (see ``identify``)."""
        principal = await self.identify(authorization)
        return principal.key_id if principal else None
