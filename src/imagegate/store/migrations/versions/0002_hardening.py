"""Attempts say whether a cancelled call may still be billed, and which time limit ended a timed-out one.

Revision ID: 0002_hardening
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_hardening"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("possibly_billed", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("limit_hit", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("limit_hit")
        batch.drop_column("possibly_billed")
