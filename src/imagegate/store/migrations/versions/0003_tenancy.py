"""Tenancy: key policies (models, routing, budget, rate limits, metadata), budget ledgers and reservations, and the
key version stamp every replica polls.

Revision ID: 0003_tenancy
Revises: 0002_hardening
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_tenancy"
down_revision = "0002_hardening"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "key_policies",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=True),
        sa.Column("models", sa.JSON(), nullable=False),
        sa.Column("routing", sa.JSON(), nullable=True),
        sa.Column("budget_micros", sa.BigInteger(), nullable=True),
        sa.Column("budget_period", sa.String(8), nullable=True),
        sa.Column("budget_models", sa.JSON(), nullable=True),
        sa.Column("requests_per_minute", sa.Integer(), nullable=True),
        sa.Column("images_per_minute", sa.Integer(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("key_id", name="pk_key_policies"),
    )
    op.create_table(
        "budget_ledgers",
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("period_start", sa.String(16), nullable=False),
        sa.Column("spent_micros", sa.BigInteger(), nullable=False),
        sa.Column("reserved_micros", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key_id", "period_start", name="pk_budget_ledgers"),
    )
    op.create_table(
        "budget_reservations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("period_start", sa.String(16), nullable=False),
        sa.Column("amount_micros", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_budget_reservations"),
    )
    op.create_index("ix_budget_reservations_key_id", "budget_reservations", ["key_id"])
    op.create_index("ix_budget_reservations_expires_at", "budget_reservations", ["expires_at"])
    op.create_table(
        "key_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_key_version"),
    )
    op.bulk_insert(sa.table("key_version", sa.column("id"), sa.column("version")), [{"id": 1, "version": 0}])


def downgrade() -> None:
    op.drop_table("key_version")
    op.drop_table("budget_reservations")
    op.drop_table("budget_ledgers")
    op.drop_table("key_policies")
