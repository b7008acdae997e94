"""Keys with policies in the database: create, list, show, update, revoke, and verify a presented secret.

Every change bumps ``key_version.version`` in the same transaction, which is how every worker and replica learns
within a fraction of a second that its cached keys are stale (see ``tenancy/directory.py``). Blocking: call it off
the event loop. Keys made before this module (``api_keys`` rows without a policy) keep working with the default
policy (every model, no budget, no limits).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from imagegate.store.db import Database, utcnow
from imagegate.store.keys import display_prefix, generate_api_key, hash_api_key, new_key_id
from imagegate.store.models import ApiKeyRow
from imagegate.store.tenancy_rows import KeyPolicyRow, KeyVersionRow, bump_key_version
from imagegate.tenancy.policy import MICROS, KeyPolicy

_POLICY_DEFAULTS: dict[str, Any] = {"models": ["*"], "key_metadata": {}}


def to_policy(key: ApiKeyRow, row: KeyPolicyRow | None) -> KeyPolicy:
    if row is None:
        return KeyPolicy(key_id=key.id, name=key.name)
    return KeyPolicy(
        key_id=key.id,
        name=key.name,
        expires_at=row.expires_at,
        models=tuple(row.models or ["*"]),
        routing=row.routing,
        budget_micros=row.budget_micros,
        budget_period=row.budget_period,  # type: ignore[arg-type]
        budget_models=tuple(row.budget_models) if row.budget_models else None,
        requests_per_minute=row.requests_per_minute,
        images_per_minute=row.images_per_minute,
        metadata=dict(row.key_metadata or {}),
    )


def key_view(key: ApiKeyRow, row: KeyPolicyRow | None) -> dict[str, Any]:
    """A key as the admin API and the CLI show it: never the secret, nor its hash."""
    p = to_policy(key, row)
    budget: dict[str, Any] | None = None
    if p.budget_micros is not None:
        budget = {"usd": p.budget_micros / MICROS, "period": p.budget_period}
        if p.budget_models:
            budget["models"] = list(p.budget_models)
    limits = None
    if p.requests_per_minute is not None or p.images_per_minute is not None:
        limits = {"requests_per_minute": p.requests_per_minute, "images_per_minute": p.images_per_minute}

    def iso(value: datetime | None) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": key.id,
        "object": "api_key",
        "name": key.name,
        "prefix": key.prefix,
        "created_at": iso(key.created_at),
        "expires_at": iso(p.expires_at),
        "revoked_at": iso(key.revoked_at),
        "last_used_at": iso(key.last_used_at),
        "models": list(p.models),
        "routing": p.routing,
        "budget": budget,
        "rate_limits": limits,
        "metadata": p.metadata,
    }


class KeyStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def create(self, fields: dict[str, Any]) -> tuple[dict[str, Any], str]:
        """A new key from validated ``fields`` (``policy.parse_key_body``): ``(view, plaintext)``. The plaintext is
        not stored and cannot be shown again."""
        plaintext = generate_api_key()
        now = utcnow()
        fields = dict(fields)
        key = ApiKeyRow(
            id=new_key_id(),
            name=fields.pop("name", "default"),
            key_hash=hash_api_key(plaintext),
            prefix=display_prefix(plaintext),
            created_at=now,
        )
        policy = KeyPolicyRow(key_id=key.id, updated_at=now, **{**_POLICY_DEFAULTS, **fields})
        with self.db.session.begin() as s:
            s.add(key)
            s.flush()
            s.add(policy)
            bump_key_version(s)
        return key_view(key, policy), plaintext

    def _load(self, s: Session, key_id: str) -> tuple[ApiKeyRow, KeyPolicyRow | None] | None:
        key = s.get(ApiKeyRow, key_id)
        return None if key is None else (key, s.get(KeyPolicyRow, key_id))

    def get(self, key_id: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            found = self._load(s, key_id)
            return key_view(*found) if found else None

    def policy(self, key_id: str) -> KeyPolicy | None:
        """The policy of database key ``key_id`` (revoked or not: work it accepted still runs under it), else
        ``None`` (a static key, the master key, no auth)."""
        with self.db.session() as s:
            found = self._load(s, key_id)
            return to_policy(*found) if found else None

    def list(self) -> list[dict[str, Any]]:
        with self.db.session() as s:
            keys = list(s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at, ApiKeyRow.id)))
            policies = {p.key_id: p for p in s.scalars(select(KeyPolicyRow))}
            return [key_view(k, policies.get(k.id)) for k in keys]

    def update(self, key_id: str, fields: dict[str, Any]) -> dict[str, Any] | None:
        """Apply validated ``fields`` (a partial body); ``None`` when the key does not exist."""
        fields = dict(fields)
        with self.db.session.begin() as s:
            found = self._load(s, key_id)
            if found is None:
                return None
            key, policy = found
            if "name" in fields:
                key.name = fields.pop("name")
            if policy is None:
                policy = KeyPolicyRow(key_id=key_id, **_POLICY_DEFAULTS)
                s.add(policy)
            for name, value in fields.items():
                setattr(policy, name, value)
            policy.updated_at = utcnow()
            bump_key_version(s)
            return key_view(key, policy)

    def revoke(self, key_id: str) -> dict[str, Any] | None:
        """Revoke (idempotent); ``None`` when the key does not exist."""
        with self.db.session.begin() as s:
            found = self._load(s, key_id)
            if found is None:
                return None
            key, policy = found
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                bump_key_version(s)
            return key_view(key, policy)

    def verify(self, plaintext: str) -> KeyPolicy | None:
        """The policy of the live key whose hash matches ``plaintext`` (not revoked; expiry is checked by the
        caller, per request), else ``None``. Marks the key used (``Database.verify_api_key``)."""
        key_id = self.db.verify_api_key(plaintext)
        if key_id is None:
            return None
        digest = hash_api_key(plaintext)
        with self.db.session() as s:
            found = self._load(s, key_id)
            if found is None or not hmac.compare_digest(found[0].key_hash, digest):
                return None
            return to_policy(*found)

    def version(self) -> tuple[int, int]:
        """``(key version, live key count)``: one cheap query that every replica polls."""
        with self.db.engine.connect() as conn:
            version = conn.execute(select(KeyVersionRow.version).where(KeyVersionRow.id == 1)).scalar()
            live = conn.execute(
                select(func.count()).select_from(ApiKeyRow).where(ApiKeyRow.revoked_at.is_(None))
            ).scalar_one()
            return int(version or 0), int(live)
