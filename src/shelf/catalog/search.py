"""Full-text search, per backend: SQLite FTS5 and PostgreSQL tsvector behind a GIN index.

User text never reaches either query language as syntax: it is split into word tokens, all of
which must match, and the last one matches as a prefix (so "wool sca" finds "wool scarf").

Relevance comes in two tiers: products whose *name* holds every word, then products that match
only through their tags, category or description; newest first within a tier. Each tier is a plain
filter, so the database can walk the ``(status, created_at)`` index and stop after one page for a
common word, or start from the full-text index for a rare one, instead of scoring every match the
way ``ts_rank`` or bm25 must. The order does not depend on corpus statistics either, which keeps
cursors stable while products are added.
"""

from __future__ import annotations

import enum
import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Uuid,
    and_,
    column,
    exists,
    func,
    literal_column,
    not_,
    select,
    table,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from shelf.catalog.models import Product

MAX_TOKENS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
_search_rowids = table("product_search_rowids", column("rowid", Integer), column("product_id", Uuid))
_fts = table("products_fts", column("rowid", Integer))


class Tier(enum.IntEnum):
    NAME = 1  # every word is in the name
    OTHER = 2  # every word matches, but not all of them in the name


def tokens(query: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(query)][:MAX_TOKENS]


async def matches(
    session: AsyncSession, dialect: str, words: list[str], tier: Tier | None = None
) -> ColumnElement[bool]:
    """A filter for products matching every word: in the given tier, or anywhere when ``None``."""
    if dialect == "sqlite":
        expression = _fts5_expression(words, tier)
        if await _common_in_sqlite(session, expression):
            return _sqlite_membership(expression)
        return _sqlite_match(expression)
    query = func.to_tsquery("english", _tsquery(words))
    vector: ColumnElement[Any] = literal_column("products.search_vector")
    anywhere = vector.bool_op("@@")(query)
    # Matches the expression index ix_products_name_search (migration 0004), whose statistics
    # let the planner tell a word in names from a word elsewhere.
    in_name = func.to_tsvector("english", Product.name).bool_op("@@")(query)
    condition = anywhere if tier is None else in_name if tier is Tier.NAME else and_(anywhere, not_(in_name))
    if await _common_in_postgres(session, condition):
        return condition
    # Few matches: hand the planner the match set first (materialised, through the GIN indexes),
    # so it sorts a handful of rows instead of walking the sort index in search of them.
    matched = select(Product.id).where(condition).cte("search_matches").prefix_with("MATERIALIZED")
    return Product.id.in_(select(matched.c.id))


def _tsquery(words: list[str]) -> str:
    # Tokens are \w+ only, so they cannot carry tsquery operators.
    return " & ".join([*words[:-1], f"{words[-1]}:*"])


async def _common_in_postgres(session: AsyncSession, condition: ColumnElement[bool]) -> bool:
    probe = select(func.count()).select_from(
        select(Product.id).where(condition).limit(COMMON_MATCHES + 1).subquery()
    )
    return int(await session.scalar(probe) or 0) > COMMON_MATCHES


def _fts5_expression(words: list[str], tier: Tier | None) -> str:
    phrase = "(" + " ".join([*(f'"{w}"' for w in words[:-1]), f'"{words[-1]}"*']) + ")"
    if tier is None:
        return phrase
    in_name = f"{{name}} : {phrase}"
    return in_name if tier is Tier.NAME else f"{phrase} NOT ({in_name})"


# SQLite's planner cannot estimate how many rows an FTS5 MATCH yields, so Shelf asks: a capped
# count of matches (a few milliseconds even for a word in every tenth product) picks the plan.
# Common words: walk the sort index and test each row's membership, stopping after one page
# (merino at 1M products: 24 ms this way, 338 ms the other). Rare words: start from the matches
# and sort those few (zebra: 0.1 ms this way, 1.4 s walking an index that never finds one).
COMMON_MATCHES = 1000


async def _common_in_sqlite(session: AsyncSession, expression: str) -> bool:
    probe = text("SELECT count(*) FROM (SELECT 1 FROM products_fts WHERE products_fts MATCH :q LIMIT :cap)")
    found = await session.scalar(probe, {"q": expression, "cap": COMMON_MATCHES + 1})
    return int(found or 0) > COMMON_MATCHES


def _sqlite_membership(expression: str) -> ColumnElement[bool]:
    matching_rowids = select(_fts.c.rowid).where(
        text("products_fts MATCH :fts_query").bindparams(fts_query=expression)
    )
    return exists(
        select(_search_rowids.c.rowid).where(
            _search_rowids.c.product_id == Product.id, _search_rowids.c.rowid.in_(matching_rowids)
        )
    )


def _sqlite_match(expression: str) -> ColumnElement[bool]:
    matching_rowids = select(_fts.c.rowid).where(
        text("products_fts MATCH :fts_query").bindparams(fts_query=expression)
    )
    return Product.id.in_(
        select(_search_rowids.c.product_id).where(_search_rowids.c.rowid.in_(matching_rowids))
    )
