"""The analytics tables. Events are append-only; the rollups are kept in the same transaction.

Times are integers: milliseconds since the Unix epoch (UTC) for events, whole UTC days since the
epoch for rollups. Bucketing by hour, day or ISO week is then integer arithmetic that SQLite and
PostgreSQL do alike, and fast.

These are Core tables, not ORM classes: events are written in batches of thousands by COPY or
executemany and read by aggregate queries; no code ever loads one as an object.

On PostgreSQL ``analytics_events`` is partitioned by month of ``timestamp_ms`` (declarative range
partitioning, see ``partitions.py``). A unique index there would have to include the partition
key, which would not stop the same uuid arriving with another timestamp (a retried request gets a
different clock-skew correction), so uniqueness lives in ``analytics_event_ids`` instead, a plain
table that every event passes through first (ADR 0010).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, String, Table, Uuid
from sqlalchemy.dialects.postgresql import JSONB

from shelf.platform.db import Base

MS_PER_DAY = 86_400_000


def person_of(distinct_id: str) -> int:
    """The signed 64-bit person key of a distinct id (BLAKE2b). Two people collide with
    probability about n^2 / 2^65: one in 370,000 among ten million people."""
    return int.from_bytes(hashlib.blake2b(distinct_id.encode(), digest_size=8).digest(), "big", signed=True)


PRODUCT_VIEWED = "product_viewed"
ADD_TO_CART = "add_to_cart"

events = Table(
    "analytics_events",
    Base.metadata,
    Column("uuid", Uuid, nullable=False),
    Column("event", String(200), nullable=False),
    Column("distinct_id", String(200), nullable=False),
    # A 64-bit hash of distinct_id (``person_of``): what queries count, group and join on. Integers
    # hash, sort and compare several times faster than strings of up to 200 characters.
    Column("person", BigInteger, nullable=False),
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("properties", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
    Column("product_id", String(100)),  # from properties.product_id, for the product rollup
    # The one index: every query names an event and a time range; it covers distinct_id so that
    # counts and funnel steps read the index alone. Each index costs every insert (ADR 0010).
    Index("ix_analytics_events_event_time", "event", "timestamp_ms", "person"),
    postgresql_partition_by="RANGE (timestamp_ms)",
)

event_ids = Table(
    "analytics_event_ids",
    Base.metadata,
    Column("uuid", Uuid, primary_key=True),  # exactly once: an event is stored only if its uuid is new
)

user_days = Table(
    "analytics_user_days",
    Base.metadata,
    Column("event", String(200), primary_key=True),
    Column("day", Integer, primary_key=True),
    Column("person", BigInteger, primary_key=True),
    Column("events", Integer, nullable=False),
    Column("first_ms", BigInteger, nullable=False),
    Column("last_ms", BigInteger, nullable=False),
)

product_days = Table(
    "analytics_product_days",
    Base.metadata,
    Column("day", Integer, primary_key=True),
    Column("product_id", String(100), primary_key=True),
    Column("views", Integer, nullable=False),
    Column("adds", Integer, nullable=False),
)
