"""Search picks its plan by how many products match (catalog/search.py), on both backends.

Walking the sort index pays off when matches are common, starting from the matches when they are
rare; picking wrong costs a full walk of the table (a word in no name, at 1M products: 0.5-1 s). The
answers are the same either way (test_list_and_search.py forces each plan); these tests check the
choice itself, from what each backend can know cheaply: SQLite a capped count of FTS5 matches,
PostgreSQL its planner's estimates after ANALYZE.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite

from shelf.app import Container
from shelf.catalog.bulk import insert_products
from shelf.catalog.queries import ProductQuery, list_products
from shelf.catalog.search import Tier, matches, prepare_search

PRODUCTS = 2_000
MERINO_EVERY = 5  # 400 products have "merino" in their name
NAVY_EVERY = 4  # 500 others have "navy" in their description only


def rows() -> list[dict[str, Any]]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    found = []
    for n in range(PRODUCTS):
        merino = n % MERINO_EVERY == 0
        navy = not merino and n % NAVY_EVERY == 1
        created = start + timedelta(minutes=n)
        found.append(
            {
                "id": uuid.UUID(int=n + 1),
                "sku": f"PLAN-{n:05d}",
                "name": f"{'Merino' if merino else 'Cotton'} Scarf {n}",
                "description": "Dyed a deep navy blue." if navy else "Undyed.",
                "price_amount": Decimal("10.00"),
                "price_currency": "EUR",
                "status": "active",
                "category": "apparel",
                "tags": [],
                "attributes": {},
                "stock": 1,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
    return found


@pytest.fixture
async def analysed(container: Container) -> Container:
    async with container.database.sessions() as session:
        await insert_products(session, rows())
        await session.commit()
    async with container.database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            await connection.execute(text("ANALYZE products"))
        await connection.commit()
    return container


async def plan(container: Container, words: list[str], tier: Tier | None) -> str:
    """``walk`` (filter rows met along the sort order) or ``matches`` (start from the match set)."""
    async with container.database.sessions() as session:
        condition = await matches(session, container.database.dialect, words, tier)
    dialect = postgresql.dialect() if container.database.dialect == "postgresql" else sqlite.dialect()
    sql = str(condition.compile(dialect=dialect))
    return "matches" if sql.startswith("products.id IN") else "walk"


@pytest.mark.parametrize(
    ("words", "tier", "expected"),
    [
        (["merino"], Tier.NAME, "walk"),  # a fifth of the names
        (["merino"], Tier.OTHER, "matches"),  # none outside a name: the last name page must not walk
        (["navy"], Tier.NAME, "matches"),  # in no name
        (["navy"], Tier.OTHER, "walk"),  # a quarter of the descriptions
        (["navy"], None, "walk"),  # sorted by a column: matches anywhere
        (["zebra"], Tier.NAME, "matches"),  # nowhere
        (["zebra"], Tier.OTHER, "matches"),
    ],
)
async def test_common_words_walk_the_sort_order_and_rare_ones_start_from_their_matches(
    analysed: Container,
    monkeypatch: pytest.MonkeyPatch,
    words: list[str],
    tier: Tier | None,
    expected: str,
) -> None:
    # The floor under "common" is 1,000 matches, sized for big catalogs; this one has 2,000 rows.
    monkeypatch.setattr("shelf.catalog.search.COMMON_MATCHES", 100)
    assert await plan(analysed, words, tier) == expected


async def test_search_transactions_plan_for_their_own_words_and_never_in_parallel(
    analysed: Container,
) -> None:
    # After five executions PostgreSQL may switch a prepared statement to one generic plan for all
    # parameters; for search that plan is wrong for most words (a parallel bitmap scan for a word
    # that matches nothing cost 13-18 ms at 1M products instead of 0.4 ms). A search page's
    # transaction forces custom plans and no parallel workers; other transactions keep the defaults.
    # SQLite has neither, and is sent nothing.
    if analysed.database.dialect == "sqlite":
        sent: list[str] = []
        engine = analysed.database.engine.sync_engine
        listener = lambda *args: sent.append(args[2])  # noqa: E731 - (conn, cursor, statement, ...)
        event.listen(engine, "before_cursor_execute", listener)
        try:
            async with analysed.database.sessions() as session:
                await prepare_search(session, "sqlite")
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert sent == []
        return
    prepared = text(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
        " WHERE statement LIKE '%search_matches%' AND statement NOT LIKE '%pg_prepared_statements%'"
    )
    async with analysed.database.sessions() as session:
        # The pooled connection may hold search statements other tests prepared: count from here.
        before = {row[0]: row[2] for row in await session.execute(prepared)}
        for _ in range(8):  # the same statements, on one connection, past the fifth execution
            page = await list_products(session, "postgresql", ProductQuery(q="zebra"), visible_all=False)
            assert page.items == []
        settings = await session.execute(
            text(
                "SELECT current_setting('plan_cache_mode'),"
                " current_setting('max_parallel_workers_per_gather')"
            )
        )
        assert tuple(settings.one()) == ("force_custom_plan", "0")
        rows = [tuple(row) for row in await session.execute(prepared)]
        assert all(generic == 0 for _, generic, _ in rows), rows  # never a generic plan, any statement
        ran = {statement: custom - before.get(statement, 0) for statement, _, custom in rows}
        ran = {statement: count for statement, count in ran.items() if count}
        assert ran, "the search statements were not prepared"
        assert all(count >= 8 for count in ran.values()), ran  # a custom plan at every execution
    async with analysed.database.sessions() as session:
        defaults = await session.execute(text("SELECT current_setting('plan_cache_mode')"))
        assert defaults.scalar_one() == "auto"
