"""Who an anonymous visitor turned out to be: ``$identify`` links, one row per anonymous person.

A shopper browses as ``anon-<hex>`` (the shopper cookie, ``web.shopper``) and may later log in as
``user:<id>``. PostHog records that with an ``$identify`` event (``distinct_id`` the user,
``$anon_distinct_id`` the anonymous id); Shelf stores the event like any other and keeps the link
here, keyed by the anonymous person's 64-bit key (``models.person_of``), so a query can map the
anonymous person onto the user. As in PostHog, an anonymous id is linked once: the first link wins
(a shared computer's next login does not merge two people).

The queries do not resolve these links yet (ADR 0017 says why and what it would cost): the table
is the record a later rollup can apply.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

import orjson
from sqlalchemy import BigInteger, Column, String, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf.analytics.models import person_of
from shelf.platform.db import Base

IDENTIFY = "$identify"
ANON_PROPERTY = "$anon_distinct_id"

person_aliases = Table(
    "analytics_person_aliases",
    Base.metadata,
    Column("anon_person", BigInteger, primary_key=True, autoincrement=False),  # person_of(anon_distinct_id)
    Column("person", BigInteger, nullable=False),  # person_of(distinct_id)
    Column("anon_distinct_id", String(200), nullable=False),
    Column("distinct_id", String(200), nullable=False),
    Column("created_ms", BigInteger, nullable=False),
)

Alias = tuple[str, str]  # (anonymous distinct id, the identified distinct id)


class AliasStore(Protocol):
    async def link(self, aliases: Sequence[Alias], now_ms: int) -> int:
        """Record each link whose anonymous id is not linked yet; how many were new."""
        ...


class SqlAliasStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def link(self, aliases: Sequence[Alias], now_ms: int) -> int:
        rows = [
            {
                "anon_person": person_of(anon),
                "person": person_of(known),
                "anon_distinct_id": anon,
                "distinct_id": known,
                "created_ms": now_ms,
            }
            for anon, known in dict(aliases).items()
            if anon != known
        ]
        if not rows:
            return 0
        # ON CONFLICT DO NOTHING: the same SQL on SQLite (3.24+) and PostgreSQL; the first link wins.
        statement = text(
            "INSERT INTO analytics_person_aliases"
            " (anon_person, person, anon_distinct_id, distinct_id, created_ms)"
            " VALUES (:anon_person, :person, :anon_distinct_id, :distinct_id, :created_ms)"
            " ON CONFLICT (anon_person) DO NOTHING"
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement, rows)
        return max(int(result.rowcount or 0), 0)


class NullAliasStore:
    async def link(self, aliases: Sequence[Alias], now_ms: int) -> int:
        return 0


def aliases_in(events: Iterable[tuple[str, str, str]]) -> list[Alias]:
    """The links that ``(event, distinct_id, properties as JSON)`` triples carry."""
    found: list[Alias] = []
    for name, distinct_id, properties in events:
        if name != IDENTIFY:
            continue
        anon = orjson.loads(properties).get(ANON_PROPERTY)
        if isinstance(anon, str) and anon and anon != distinct_id:
            found.append((anon[:200], distinct_id))
    return found
