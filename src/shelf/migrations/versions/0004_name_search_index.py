"""PostgreSQL: a full-text index on product names alone, for the first search tier.

The planner's statistics on ``search_vector`` count lexemes but ignore weight labels, so a query
for "this word in the name" (weight A) was estimated like "this word anywhere": for a word found in
descriptions but in no name it walked every active product. An expression index on the name has
statistics of its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_products_name_search ON products USING gin (to_tsvector('english', name))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_products_name_search")
