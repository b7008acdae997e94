"""Web catalog: the daily per-(model, provider) performance rollup and its watermark (issue 10).

Revision ID: 0006_web
Revises: 0003_tenancy
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_web"
down_revision = "0003_tenancy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "perf_daily",
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("successes", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Float(), nullable=False),
        sa.Column("latency_hist", sa.Text(), nullable=False),
        sa.Column("ttfb_hist", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("model", "provider", "day", name="pk_perf_daily"),
    )
    state = op.create_table(
        "perf_rollup_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_attempt_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_perf_rollup_state"),
    )
    # The watermark row exists from the start, so a refresher's first UPDATE takes SQLite's write lock.
    op.bulk_insert(state, [{"id": 1, "last_attempt_id": 0}])


def downgrade() -> None:
    op.drop_table("perf_rollup_state")
    op.drop_table("perf_daily")
