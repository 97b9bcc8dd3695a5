"""Indexes for staff listings, which see every status and so cannot use the status-led ones.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_products_created": ["created_at", "id"],
    "ix_products_name": ["name", "id"],
    "ix_products_price": ["price_amount", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "products", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="products")
