"""Database keys cached in each process, kept fresh across workers and replicas by a version stamp.

Every key change bumps ``key_version.version`` (``store/tenancy_rows.py``) in the shared database. A process reads
that one row at most every ``freshness_s`` (0.5 s by default, only when a request arrives) and drops its whole cache
when it moved. So:

- a key made on any replica works at once everywhere (an unknown secret is always looked up, unless it was
  refused less than ``freshness_s`` ago and no key changed since);
- a revoked or changed key is refused or re-read everywhere within ``freshness_s`` (documented as "within 1 s");
- while nothing changes, a known key costs no query at all (the version check is shared by all requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable

from imagegate.tenancy.keystore import KeyStore
from imagegate.tenancy.policy import KeyPolicy

_MAX_ENTRIES = 10_000


class KeyDirectory:
    def __init__(
        self, store: KeyStore, *, freshness_s: float = 0.5, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.freshness_s = freshness_s
        self._clock = clock
        self._version: int | None = None
        self._live = 0
        self._checked = float("-inf")
        self._lock = asyncio.Lock()
        self._known: dict[bytes, KeyPolicy] = {}
        self._refused: dict[bytes, float] = {}  # digest -> when it was refused

    async def _fresh(self) -> None:
        if self._clock() - self._checked < self.freshness_s:
            return
        async with self._lock:  # one version query at a time, shared by every waiting request
            if self._clock() - self._checked < self.freshness_s:
                return
            version, live = await asyncio.to_thread(self.store.version)
            if version != self._version:
                self._known.clear()
                self._refused.clear()
                self._version = version
            self._live = live
            self._checked = self._clock()

    def invalidate(self) -> None:
        """Keys changed in this process: re-read the version at the next request (other processes poll it)."""
        self._checked = float("-inf")

    async def has_live_keys(self) -> bool:
        await self._fresh()
        return self._live > 0

    async def lookup(self, token: str) -> KeyPolicy | None:
        """The policy of the live key ``token``, else ``None`` (expiry is the caller's check)."""
        await self._fresh()
        digest = hashlib.sha256(token.encode()).digest()
        policy = self._known.get(digest)
        if policy is not None:
            return policy
        refused = self._refused.get(digest)
        if refused is not None and self._clock() - refused < self.freshness_s:
            return None
        version = self._version
        policy = await asyncio.to_thread(self.store.verify, token)
        if version != self._version:  # keys changed while we looked: this answer may be stale, cache nothing
            return policy
        target = self._known if policy is not None else self._refused
        if len(target) >= _MAX_ENTRIES:
            target.clear()
        if policy is not None:
            self._known[digest] = policy
        else:
            self._refused[digest] = self._clock()
        return policy
