"""Catalog and identity: products with full-text search, tags, idempotency keys, users, API keys.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite: an FTS5 index keyed by a stable integer rowid (kept in product_search_rowids, because a
# table's implicit rowid may change on VACUUM), maintained by triggers on every write path.
SQLITE_SEARCH = [
    "CREATE TABLE product_search_rowids (rowid INTEGER PRIMARY KEY, product_id CHAR(32) NOT NULL UNIQUE)",
    "CREATE VIRTUAL TABLE products_fts USING fts5(name, description, tags, category, tokenize = 'porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER products_search_insert AFTER INSERT ON products BEGIN
        INSERT INTO product_search_rowids (product_id) VALUES (new.id);
        INSERT INTO products_fts (rowid, name, description, tags, category)
        VALUES (last_insert_rowid(), new.name, new.description, new.tags, coalesce(new.category, ''));
    END""",
    """CREATE TRIGGER products_search_update AFTER UPDATE OF name, description, tags, category ON products BEGIN
        UPDATE products_fts SET name = new.name, description = new.description, tags = new.tags,
            category = coalesce(new.category, '')
        WHERE rowid = (SELECT rowid FROM product_search_rowids WHERE product_id = new.id);
    END""",
    """CREATE TRIGGER products_search_delete AFTER DELETE ON products BEGIN
        DELETE FROM products_fts WHERE rowid = (SELECT rowid FROM product_search_rowids WHERE product_id = old.id);
        DELETE FROM product_search_rowids WHERE product_id = old.id;
    END""",
]

# PostgreSQL: a stored generated tsvector (weights: name A, tags B, category C, description D)
# behind a GIN index, so no write path can forget to update it.
POSTGRES_SEARCH = [
    """ALTER TABLE products ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A')
        || setweight(to_tsvector('english', coalesce(tags::text, '')), 'B')
        || setweight(to_tsvector('english', coalesce(category, '')), 'C')
        || setweight(to_tsvector('english', description), 'D')
    ) STORED""",
    "CREATE INDEX ix_products_search ON products USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("sku", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("price_amount", sa.BigInteger(), nullable=False),
        sa.Column("price_currency", sa.String(3), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("category", sa.String(64), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("stock", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("status IN ('draft', 'active', 'archived')", name="ck_products_status"),
        sa.CheckConstraint("price_amount >= 0", name="ck_products_price_nonnegative"),
        sa.CheckConstraint("stock >= 0", name="ck_products_stock_nonnegative"),
    )
    op.create_index("ix_products_status_created", "products", ["status", "created_at", "id"])
    op.create_index("ix_products_status_name", "products", ["status", "name", "id"])
    op.create_index("ix_products_status_price", "products", ["status", "price_amount", "id"])
    op.create_index(
        "ix_products_category_status_created",
        "products",
        ["category", "status", "created_at", "id"],
    )
    op.create_index(
        "ix_products_category_status_price",
        "products",
        ["category", "status", "price_amount", "id"],
    )
    op.create_table(
        "product_tags",
        sa.Column("tag", sa.String(40), primary_key=True),
        sa.Column(
            "product_id",
            sa.Uuid(),
            sa.ForeignKey("products.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_product_tags_product", "product_tags", ["product_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("email_normalized", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    statements = SQLITE_SEARCH if op.get_bind().dialect.name == "sqlite" else POSTGRES_SEARCH
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in (
            "products_search_insert",
            "products_search_update",
            "products_search_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS products_fts")
        op.execute("DROP TABLE IF EXISTS product_search_rowids")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("idempotency_keys")
    op.drop_table("product_tags")
    op.drop_table("products")
