"""Analytics person aliases: which anonymous visitor became which user (``$identify``, ADR 0017).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "analytics_person_aliases",
        sa.Column("anon_person", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("person", sa.BigInteger(), nullable=False),
        sa.Column("anon_distinct_id", sa.String(200), nullable=False),
        sa.Column("distinct_id", sa.String(200), nullable=False),
        sa.Column("created_ms", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("analytics_person_aliases")
