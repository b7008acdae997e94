"""Playground history and the gallery: web_generations, gallery_entries.

Revision ID: 0008_gallery
Revises: 0007_arena
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_gallery"
down_revision = "0007_arena"
branch_labels = None
depends_on = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "web_generations",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("request_json", sa.Text(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_web_generations"),
    )
    op.create_index("ix_web_generations_owner", "web_generations", ["owner"])
    op.create_index("ix_web_generations_expires_at", "web_generations", ["expires_at"])
    op.create_table(
        "gallery_entries",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(80), nullable=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.Column("executed_model", sa.String(260), nullable=True),
        sa.Column("size", sa.String(32), nullable=True),
        sa.Column("cost_micros", sa.BigInteger(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("image_token", sa.String(64), nullable=False),
        sa.Column("image_mime", sa.String(64), nullable=False),
        sa.Column("thumb_token", sa.String(64), nullable=False),
        sa.Column("generation_id", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_gallery_entries"),
    )
    op.create_index("ix_gallery_entries_created_at", "gallery_entries", ["created_at"])
    op.create_index("ix_gallery_entries_owner", "gallery_entries", ["owner"])
    op.create_index("ix_gallery_entries_model", "gallery_entries", ["model"])


def downgrade() -> None:
    op.drop_table("gallery_entries")
    op.drop_table("web_generations")
