"""Analytics: the append-only events table (partitioned by month on PostgreSQL), the uuid
register that makes storage exactly-once, and the per-day rollups queries read.

Partitions themselves are created by the application, ahead of time and on demand
(``shelf.analytics.partitions``), not here: they follow the calendar, not the schema.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_events",
        sa.Column("uuid", sa.Uuid(), nullable=False),
        sa.Column("event", sa.String(200), nullable=False),
        sa.Column("distinct_id", sa.String(200), nullable=False),
        sa.Column("person", sa.BigInteger(), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("properties", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("product_id", sa.String(100), nullable=True),
        postgresql_partition_by="RANGE (timestamp_ms)",
    )
    op.create_index("ix_analytics_events_event_time", "analytics_events", ["event", "timestamp_ms", "person"])
    op.create_table("analytics_event_ids", sa.Column("uuid", sa.Uuid(), primary_key=True))
    op.create_table(
        "analytics_user_days",
        sa.Column("event", sa.String(200), primary_key=True),
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("person", sa.BigInteger(), primary_key=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_ms", sa.BigInteger(), nullable=False),
        sa.Column("last_ms", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "analytics_product_days",
        sa.Column("day", sa.Integer(), primary_key=True),
        sa.Column("product_id", sa.String(100), primary_key=True),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("adds", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytics_product_days")
    op.drop_table("analytics_user_days")
    op.drop_table("analytics_event_ids")
    op.drop_table("analytics_events")  # on PostgreSQL, its partitions go with it
