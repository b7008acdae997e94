"""Per-key webhook signing secrets. Signing needs the secret itself, so it is stored as is (not hashed); the API
shows it only when it is created or rotated. Blocking methods."""

from __future__ import annotations

from sqlalchemy import select

from imagegate.jobs.webhooks import new_secret
from imagegate.store.db import Database, utcnow
from imagegate.store.job_models import WebhookSecretRow


class SecretStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, owner: str) -> WebhookSecretRow | None:
        with self.db.session() as s:
            return s.get(WebhookSecretRow, owner)

    def ensure(self, owner: str) -> str | None:
        """Create the key's secret when it has none; returns it only when it was just created."""
        if self.get(owner) is not None:
            return None
        secret = new_secret()
        try:
            with self.db.session.begin() as s:
                s.add(WebhookSecretRow(owner=owner, secret=secret, created_at=utcnow()))
        except Exception:  # a concurrent request created it first: theirs stands
            if self.get(owner) is not None:
                return None
            raise
        return secret

    def rotate(self, owner: str) -> WebhookSecretRow:
        secret = new_secret()
        with self.db.session.begin() as s:
            row = s.scalars(select(WebhookSecretRow).where(WebhookSecretRow.owner == owner)).one_or_none()
            if row is None:
                row = WebhookSecretRow(owner=owner, secret=secret, created_at=utcnow())
                s.add(row)
            else:
                row.secret, row.created_at = secret, utcnow()
        return row
