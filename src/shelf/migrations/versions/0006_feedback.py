"""Feedback: one row per submission, with its context and its triage (ADR 0016).

``product_id`` has no foreign key on purpose: feedback is kept when its product is deleted.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("page", sa.String(512), nullable=True),
        sa.Column("product_id", sa.Uuid(), nullable=True),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("distinct_id", sa.String(200), nullable=False),
        sa.Column("user_agent", sa.String(256), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(80), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("triaged_by", sa.String(320), nullable=True),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
    )
    op.create_index("ix_feedback_created", "feedback", ["created_at", "id"])
    op.create_index("ix_feedback_product_created", "feedback", ["product_id", "created_at", "id"])
    op.create_index("ix_feedback_status_created", "feedback", ["status", "created_at", "id"])


def downgrade() -> None:
    op.drop_table("feedback")
