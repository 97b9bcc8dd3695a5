"""Analytics use cases: capture (authenticate, check, buffer) and the queries (viewers and up)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from shelf.analytics import capture
from shelf.analytics.aliases import (
    ANON_PROPERTY,
    IDENTIFY,
    AliasStore,
    NullAliasStore,
    SqlAliasStore,
    aliases_in,
)
from shelf.analytics.buffer import EventBuffer, SpooledBuffer, default_spool_directory
from shelf.analytics.capture import Limits, Row
from shelf.analytics.queries import AnalyticsReader, ms_of
from shelf.analytics.redis_buffer import RedisStreamBuffer
from shelf.analytics.repository import EventWriter, event_writer
from shelf.analytics.schemas import (
    ActiveUsers,
    ActiveUsersQuery,
    Funnel,
    FunnelQuery,
    Retention,
    RetentionQuery,
    TopProducts,
    TopProductsQuery,
    Trends,
    TrendsQuery,
    parse_window,
)
from shelf.analytics.spool import Spool
from shelf.analytics.tracker import tracker_envelope
from shelf.identity.permissions import Permission, Principal
from shelf.platform.clock import Clock
from shelf.platform.errors import DomainError, Unauthenticated
from shelf.settings import Settings

log = structlog.get_logger(__name__)

KEY_CACHE_MAX = 10_000
DEFAULT_RANGE = {"hour": timedelta(days=2), "day": timedelta(days=30), "week": timedelta(weeks=12)}


KeyAuthenticator = Callable[[str], Awaitable[Principal]]


@dataclass(frozen=True)
class CaptureRequest:
    """A capture request as the route read it: the raw body and what says how to decode it."""

    body: bytes
    content_type: str = "application/json"
    content_encoding: str = ""
    compression: str | None = None
    sent_at: str | None = None  # posthog-js's ``?_=<ms>``


class AnalyticsService:
    def __init__(
        self,
        writer: EventWriter,
        buffer: EventBuffer,
        reader: AnalyticsReader,
        clock: Clock,
        authenticate_key: KeyAuthenticator,
        *,
        limits: Limits | None = None,
        key_cache_seconds: float = 10.0,
        aliases: AliasStore | None = None,
    ) -> None:
        self._writer = writer
        self.buffer = buffer
        self._reader = reader
        self._clock = clock
        self._authenticate_key = authenticate_key
        self._limits = limits or Limits()
        self._key_cache_seconds = key_cache_seconds
        self._keys: dict[str, tuple[float, Principal | None]] = {}
        self._aliases = aliases or NullAliasStore()

    async def start(self) -> None:
        try:
            await self._writer.prepare(self._clock.now())
        except Exception as error:  # the writer creates what it needs on demand anyway
            log.warning("analytics_storage_not_prepared", error=str(error)[:300])
        await self.buffer.start()

    async def aclose(self) -> None:
        await self.buffer.aclose()

    # Capture ------------------------------------------------------------------------------------

    async def capture(self, principal: Principal, request: CaptureRequest) -> int:
        """Decode, authenticate, check and durably buffer one request's events; how many."""
        payload = capture.decode_body(
            request.body,
            content_type=request.content_type,
            content_encoding=request.content_encoding,
            compression=request.compression,
            limit=self._limits.max_decompressed_bytes,
        )
        envelope = capture.parse_envelope(payload, query_sent_at_ms=capture.query_sent_at(request.sent_at))
        if principal.is_anonymous:
            if envelope.token is None:
                raise Unauthenticated(
                    "send a client API key: 'api_key' or 'token' in the body,"
                    " or 'Authorization: Bearer <key>'"
                )
            principal = await self._key_principal(envelope.token)
        principal.require(Permission.EVENTS_CAPTURE)
        rows = capture.normalise(envelope, capture.now_ms(self._clock.now()), self._limits)
        await self.buffer.put(rows)
        if any(row[1] == IDENTIFY for row in rows):  # an SDK's identify(): keep the link too
            await self._link(aliases_in((row[1], row[2], row[4]) for row in rows))
        return len(rows)

    async def capture_from_storefront(self, distinct_id: str, batch: str) -> int:
        """The first-party tracker's batch, as events of ``distinct_id`` (decided by the caller from
        the shopper cookie, never by the browser); how many were buffered."""
        envelope = tracker_envelope(batch, distinct_id)
        rows = capture.normalise(envelope, capture.now_ms(self._clock.now()), self._limits)
        await self.buffer.put(rows)
        return len(rows)

    async def identify(self, distinct_id: str, anon_distinct_id: str) -> None:
        """``anon_distinct_id`` is ``distinct_id`` from now on: an ``$identify`` event (PostHog's
        shape) and the stored link. Like ``emit``, it never fails the caller's work (a login)."""
        if not anon_distinct_id or anon_distinct_id == distinct_id:
            return
        await self.emit(IDENTIFY, distinct_id, {ANON_PROPERTY: anon_distinct_id})
        await self._link([(anon_distinct_id, distinct_id)])

    async def _link(self, aliases: list[tuple[str, str]]) -> None:
        try:
            await self._aliases.link(aliases, capture.now_ms(self._clock.now()))
        except Exception as error:  # the event is buffered; the link is a convenience on top
            log.warning("analytics_alias_not_stored", error=str(error)[:300])

    async def _key_principal(self, secret: str) -> Principal:
        """The key's principal; known answers are kept ``key_cache_seconds`` (a revoked key keeps
        capturing for at most that long), so a busy SDK costs no database read per request."""
        now = time.monotonic()
        cached = self._keys.get(secret)
        if cached is None or cached[0] < now:
            try:
                principal: Principal | None = await self._authenticate_key(secret)
            except Unauthenticated:
                principal = None
            if len(self._keys) >= KEY_CACHE_MAX:
                self._keys.clear()
            self._keys[secret] = (now + self._key_cache_seconds, principal)
            cached = self._keys[secret]
        if cached[1] is None:
            raise Unauthenticated("the API key is not valid")
        return cached[1]

    async def emit(self, event: str, distinct_id: str, properties: Mapping[str, Any]) -> None:
        """A server-side event, buffered like any other. It never fails the caller's work."""
        envelope = capture.Envelope(
            events=[{"event": event, "distinct_id": distinct_id, "properties": dict(properties)}],
            token=None,
            sent_at_ms=None,
        )
        try:
            rows: list[Row] = capture.normalise(envelope, capture.now_ms(self._clock.now()), self._limits)
            await self.buffer.put(rows)
        except DomainError as error:
            log.warning("analytics_server_event_dropped", event_name=event, reason=error.detail)

    # Queries ------------------------------------------------------------------------------------

    def _range(self, start: datetime | None, end: datetime | None, default: timedelta) -> tuple[int, int]:
        end_ms = ms_of(end) if end is not None else capture.now_ms(self._clock.now())
        start_ms = ms_of(start) if start is not None else end_ms - int(default.total_seconds() * 1000)
        return start_ms, end_ms

    async def trends(self, principal: Principal, query: TrendsQuery) -> Trends:
        principal.require(Permission.ANALYTICS_READ)
        start, end = self._range(
            query.start, query.end, DEFAULT_RANGE.get(query.interval, timedelta(days=365))
        )
        return await self._reader.trends(
            query.event,
            query.interval,
            start_ms=start,
            end_ms=end,
            breakdown=query.breakdown,
            limit=query.breakdown_limit,
        )

    async def active_users(self, principal: Principal, query: ActiveUsersQuery) -> ActiveUsers:
        principal.require(Permission.ANALYTICS_READ)
        start, end = self._range(query.start, query.end, timedelta(days=30))
        return await self._reader.active_users(query.event, start, end)

    async def funnel(self, principal: Principal, query: FunnelQuery) -> Funnel:
        principal.require(Permission.ANALYTICS_READ)
        start, end = self._range(query.start, query.end, timedelta(days=30))
        return await self._reader.funnel(query.step_names, parse_window(query.window), start, end)

    async def retention(self, principal: Principal, query: RetentionQuery) -> Retention:
        principal.require(Permission.ANALYTICS_READ)
        length = timedelta(days=1 if query.period == "day" else 7)
        start, end = self._range(query.start, query.end, length * query.periods)
        return await self._reader.retention(
            query.start_event,
            query.return_event,
            period=query.period,
            periods=query.periods,
            start_ms=start,
            end_ms=end,
        )

    async def top_products(self, principal: Principal, query: TopProductsQuery) -> TopProducts:
        principal.require(Permission.ANALYTICS_READ)
        start, end = self._range(query.start, query.end, timedelta(days=30))
        return await self._reader.top_products(start, end, query.limit)


def build_buffer(settings: Settings, writer: EventWriter) -> EventBuffer:
    """The in-process spooled buffer, or a Redis stream when ``SHELF_REDIS_URL`` is set."""
    if settings.redis_url:
        return RedisStreamBuffer(
            Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=2),
            writer,
            stream=settings.analytics_redis_stream,
            max_events=settings.analytics_buffer_max_events,
            claim_idle_seconds=settings.analytics_redis_claim_idle_seconds,
        )
    directory = (
        Path(settings.analytics_spool_dir)
        if settings.analytics_spool_dir
        else default_spool_directory(settings.database_url, settings.database_backend)
    )
    return SpooledBuffer(
        writer,
        Spool(directory),
        max_events=settings.analytics_buffer_max_events,
        flush_max_events=settings.analytics_flush_max_events,
        flush_interval=settings.analytics_flush_interval_seconds,
    )


def build_analytics(
    settings: Settings, engine: AsyncEngine, clock: Clock, authenticate_key: KeyAuthenticator
) -> AnalyticsService:
    writer = event_writer(engine)
    return AnalyticsService(
        writer,
        build_buffer(settings, writer),
        AnalyticsReader(engine),
        clock,
        authenticate_key,
        limits=limits_from(settings),
        key_cache_seconds=settings.analytics_key_cache_seconds,
        aliases=SqlAliasStore(engine),
    )


def limits_from(settings: Settings) -> Limits:
    return Limits(
        max_events=settings.analytics_max_events_per_request,
        max_decompressed_bytes=settings.analytics_max_decompressed_bytes,
        max_property_bytes=settings.analytics_max_property_bytes,
        max_property_depth=settings.analytics_max_property_depth,
    )
