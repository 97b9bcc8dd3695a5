"""Experiments: an A/B test on a multivariate flag, with its metrics (ADR 0015).

``flag_key`` names the flag by key and is not a foreign key: an experiment's results stay readable
after its flag is gone.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("flag_key", sa.String(64), nullable=False),
        sa.Column("control_variant", sa.String(100), nullable=False),
        sa.Column("primary_metric", sa.JSON(), nullable=False),
        sa.Column("secondary_metrics", sa.JSON(), nullable=False),
        sa.Column("minimum_sample", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experiments")
