"""An index for a category's listing sorted by name, like the ones sorted by time and by price.

Without it a category page sorted by name walked ``ix_products_status_name`` across every
category and filtered; with a price band as well, PostgreSQL read about 1,500 rows for a page of
21 at 1M products (11.6 ms, 0.2 ms with this index).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_products_category_status_name", "products", ["category", "status", "name", "id"])


def downgrade() -> None:
    op.drop_index("ix_products_category_status_name", table_name="products")
