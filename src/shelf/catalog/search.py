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
import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Uuid,
    and_,
    column,
    exists,
    func,
    literal,
    literal_column,
    not_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

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


# PostgreSQL plans a prepared statement for its parameters five times, then may switch to one generic
# plan for every value. Search statements are prepared once (asyncpg caches them per connection)
# and the same text serves every word, but the right plan depends on the word: the generic plan of
# "start from the matches" launched two parallel workers to bitmap-scan for a word that matches
# nothing (zebra at 1M products: 0.4 ms planned for "zebra", 13-18 ms generic). So a search page's
# transaction plans every statement for its own words, and never in parallel: a page wants its
# few rows within milliseconds, and starting workers costs more than they save.
_SEARCH_SETTINGS = text(
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true),"
    " set_config('max_parallel_workers_per_gather', '0', true)"
)


async def prepare_search(session: AsyncSession, dialect: str) -> None:
    """Set up the session's transaction for search statements (PostgreSQL; nothing on SQLite)."""
    if dialect == "postgresql":
        await session.execute(_SEARCH_SETTINGS)


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
    if await _common_in_postgres(session, words, tier, anywhere, in_name):
        return condition
    # Few matches: hand the planner the match set first (materialised, through the GIN indexes),
    # so it sorts a handful of rows instead of walking the sort index in search of them.
    matched = select(Product.id).where(condition).cte("search_matches").prefix_with("MATERIALIZED")
    return Product.id.in_(select(matched.c.id))


def _tsquery(words: list[str]) -> str:
    # Tokens are \w+ only, so they cannot carry tsquery operators.
    return " & ".join([*words[:-1], f"{words[-1]}:*"])


# PostgreSQL cannot count matches cheaply: every match a GIN index yields is checked in the table,
# and a capped count of 1,001 walked the name index, computing each name's tsvector (merino at 1M
# products: 16,000 names, 2.6 s at load 7; walnut lamp, 1,134 matches fetched from the heap: 435 ms
# at the same load, EXPLAIN ANALYZE on 2026-12-02). So PostgreSQL asks its planner instead,
# whose statistics on ``search_vector`` and on the name expression index (migration 0004) estimate
# a word in its most-common list within a few percent. A word they do not hold gets the planner's
# default guess, 0.5% of the table: a share above that means "common" (walk the sort index, about
# 21 / share rows for a page); a share at or below it means "start from the matches".
COMMON_SHARE = 0.006


@dataclass(frozen=True)
class _Estimates:
    """Rows the planner expects: the whole table, matches anywhere, matches in the name."""

    total: float
    anywhere: float
    in_name: float


async def _common_in_postgres(
    session: AsyncSession,
    words: list[str],
    tier: Tier | None,
    anywhere: ColumnElement[bool],
    in_name: ColumnElement[bool],
) -> bool:
    key = ("shelf.search.estimates", tuple(words))  # both tiers of one page share one EXPLAIN
    rows = session.info.get(key)
    if not isinstance(rows, _Estimates):
        rows = await _planner_estimates(session, anywhere, in_name)
        session.info[key] = rows
    if tier is None:
        expected = rows.anywhere
    elif tier is Tier.NAME:
        expected = rows.in_name
    else:
        # Every name match is a match anywhere, so the rest is the difference. The planner would
        # multiply instead (independence): merino's 62,000 name matches would leave 59,000 "other"
        # matches where there are none, and walking for them reads the whole table.
        expected = rows.anywhere - rows.in_name
    return expected > COMMON_MATCHES and expected > COMMON_SHARE * rows.total


async def _planner_estimates(
    session: AsyncSession, anywhere: ColumnElement[bool], in_name: ColumnElement[bool]
) -> _Estimates:
    """One ``EXPLAIN`` (planning only, about a millisecond) for all three estimates."""
    every = select(literal(1)).select_from(Product)
    plan = await session.scalar(_Explain(union_all(every, every.where(anywhere), every.where(in_name))))
    branches = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plans"]
    total, matches_anywhere, matches_in_name = (float(branch["Plan Rows"]) for branch in branches)
    return _Estimates(total, matches_anywhere, matches_in_name)


class _Explain(Executable, ClauseElement):
    """``EXPLAIN (FORMAT JSON)`` of a statement, with its bound parameters."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(_Explain, "postgresql")
def _compile_explain(element: _Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


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
