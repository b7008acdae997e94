"""The arena: battles (with votes) and competitions or categories added through the admin API.

Revision ID: 0007_arena
Revises: 0006_web
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_arena"
down_revision = "0006_web"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "arena_battles",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(40), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("competition", sa.String(80), nullable=True),
        sa.Column("prompt", sa.Text(), nullable=True),
        sa.Column("model_a", sa.String(200), nullable=False),
        sa.Column("model_b", sa.String(200), nullable=False),
        sa.Column("image_a", sa.String(200), nullable=True),
        sa.Column("image_b", sa.String(200), nullable=True),
        sa.Column("cost_micros", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("served_at", UTC_TS, nullable=True),
        sa.Column("revealed_at", UTC_TS, nullable=True),
        sa.Column("voted_at", UTC_TS, nullable=True),
        sa.Column("voter", sa.String(100), nullable=True),
        sa.Column("winner", sa.String(16), nullable=True),
        sa.Column("anony", sa.Boolean(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        sa.Column("counted_at", UTC_TS, nullable=True),
        sa.Column("judge", sa.String(200), nullable=True),
        sa.Column("question_id", sa.String(200), nullable=True),
        sa.Column("tstamp", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_arena_battles"),
        sa.UniqueConstraint("public_id", name="uq_arena_battles_public_id"),
    )
    op.create_index("ix_arena_battles_competition", "arena_battles", ["competition"])
    op.create_index("ix_arena_battles_created_at", "arena_battles", ["created_at"])
    op.create_index("ix_arena_battles_counted", "arena_battles", ["counted"])
    op.create_index("ix_arena_battles_counted_at", "arena_battles", ["counted_at"])
    op.create_index("ix_arena_battles_pool", "arena_battles", ["status", "task"])
    op.create_index("ix_arena_battles_voter_voted", "arena_battles", ["voter", "voted_at"])

    op.create_table(
        "arena_definitions",
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("kind", "slug", name="pk_arena_definitions"),
    )


def downgrade() -> None:
    op.drop_table("arena_definitions")
    op.drop_table("arena_battles")
