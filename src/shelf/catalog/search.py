"""Full-text search, per backend: SQLite FTS5 with bm25, PostgreSQL tsvector + GIN with ts_rank.

User text never reaches either query language as syntax: it is split into word tokens, all of
which must match, and the last one matches as a prefix (so "wool sca" finds "wool scarf").
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Uuid,
    column,
    func,
    literal_column,
    table,
    text,
)

from shelf.catalog.models import Product

MAX_TOKENS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
_search_rowids = table("product_search_rowids", column("rowid", Integer), column("product_id", Uuid))
_fts = table("products_fts", column("rowid", Integer))


def tokens(query: str) -> list[str]:
    return [t.lower() for t in _WORD.findall(query)][:MAX_TOKENS]


def apply_search(
    statement: Select[Product], dialect: str, words: list[str]
) -> tuple[Select[Product], ColumnElement[float]]:
    """Restrict ``statement`` to matching products; return it with a rank where lower is better."""
    if dialect == "sqlite":
        match = " ".join(f'"{w}"' for w in words[:-1]) + f' "{words[-1]}"*'
        statement = (
            statement.join(_search_rowids, _search_rowids.c.product_id == Product.id)
            .join(_fts, _fts.c.rowid == _search_rowids.c.rowid)
            .where(text("products_fts MATCH :fts_query").bindparams(fts_query=match))
        )
        # Column weights: name, description, tags, category.
        rank: ColumnElement[float] = func.bm25(literal_column("products_fts"), 10.0, 1.0, 4.0, 2.0)
        return statement, rank
    tsquery = func.to_tsquery("english", " & ".join([*words[:-1], f"{words[-1]}:*"]))
    vector: ColumnElement[Any] = literal_column("products.search_vector")
    statement = statement.where(vector.op("@@")(tsquery))
    return statement, -func.ts_rank(vector, tsquery)
