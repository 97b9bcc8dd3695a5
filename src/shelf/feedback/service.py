"""Feedback use cases: submit (from the storefront or an app), list, read, triage, summarise.

Submissions. A storefront visitor is who their shopper cookie says (``Visitor``); the page's route
has checked the form token. The server decides their anonymous id and asks the ``FlagVariants``
provider which variants they had; what the page's body says about either is ignored. An app
(a client key, or staff with a token) says both itself, within bounds. A submission whose
honeypot field is filled is answered exactly like one that was stored, and is not stored.

Personal data. The email is shown only to principals with ``FEEDBACK_READ_PERSONAL``, and to no one
once it is older than the retention period; submissions erase expired emails (at most once an
hour per process), so they do not stay in the database either.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

import structlog
from pydantic import BaseModel
from sqlalchemy.orm.exc import StaleDataError

from shelf.analytics.emitter import EventEmitter, NullEmitter
from shelf.audit.service import record
from shelf.catalog.models import ProductStatus
from shelf.feedback.errors import FeedbackNotFound, UnknownProduct
from shelf.feedback.models import Feedback, FeedbackSource, FeedbackStatus
from shelf.feedback.queries import Row
from shelf.feedback.schemas import (
    SERVER_DECIDED,
    AppFeedbackSubmission,
    FeedbackPage,
    FeedbackQuery,
    FeedbackRead,
    FeedbackSubmission,
    FeedbackTriage,
    Receipt,
    Summary,
    SummaryQuery,
    WeekTrend,
    bounded_variants,
    user_agent_of,
)
from shelf.feedback.variants import FlagVariants, NoFlagVariants
from shelf.identity.permissions import Permission, Principal
from shelf.monitoring import metrics
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWorkFactory

log = structlog.get_logger(__name__)

EVENT = "feedback_submitted"
RATINGS = (1, 2, 3, 4, 5)
TWO_PLACES = Decimal("0.01")


@dataclass(frozen=True)
class Visitor:
    """A storefront visitor, as their shopper cookie identifies them."""

    distinct_id: str
    measured: bool = True  # False when the browser asks not to be tracked: no analytics event


class FeedbackReader(Protocol):
    """The read side (``feedback.queries.SqlFeedbackReader``), as the service uses it."""

    async def page(self, query: FeedbackQuery) -> tuple[list[Row], str | None]: ...
    async def one(self, feedback_id: uuid.UUID) -> Row | None: ...
    async def rating_counts(self, product_id: uuid.UUID | None) -> dict[int, int]: ...
    async def daily_counts(
        self, product_id: uuid.UUID | None, since: datetime
    ) -> list[tuple[date, int, int]]: ...
    async def products(self, limit: int = 200) -> list[tuple[uuid.UUID, str | None, int]]: ...


def etag_for(version: int) -> str:
    return f'"{version}"'


def average_of(counts: Mapping[int, int]) -> str | None:
    """The exact mean rating, rounded half up to two places: ``{5: 2, 4: 1}`` is ``"4.67"``."""
    count = sum(counts.values())
    if not count:
        return None
    total = sum(rating * n for rating, n in counts.items())
    return str((Decimal(total) / Decimal(count)).quantize(TWO_PLACES, rounding=ROUND_HALF_UP))


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly_trend(daily: list[tuple[date, int, int]], *, weeks: int, today: date) -> list[WeekTrend]:
    """Per ISO week (Monday, UTC), oldest first, ending with ``today``'s week; empty weeks included."""
    last = week_start(today)
    starts = [last - timedelta(weeks=weeks - 1 - index) for index in range(weeks)]
    per_week: dict[date, dict[int, int]] = {start: {} for start in starts}
    for day, rating, count in daily:
        bucket = per_week.get(week_start(day))
        if bucket is not None:
            bucket[rating] = bucket.get(rating, 0) + count
    return [
        WeekTrend(week_start=start, count=sum(per_week[start].values()), average=average_of(per_week[start]))
        for start in starts
    ]


class FeedbackService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reader: FeedbackReader,
        clock: Clock,
        *,
        variants: FlagVariants | None = None,
        events: EventEmitter | None = None,
        email_retention: timedelta = timedelta(days=180),
        purge_interval: timedelta = timedelta(hours=1),
    ) -> None:
        self._uow = uow
        self._reader = reader
        self._clock = clock
        self._variants = variants or NoFlagVariants()
        self._events = events or NullEmitter()
        self.email_retention = email_retention
        self._purge_interval = purge_interval
        self._last_purge: datetime | None = None

    # Submissions ------------------------------------------------------------------------------

    async def submit_from_storefront(
        self, principal: Principal, visitor: Visitor, payload: Any, *, user_agent: str | None
    ) -> Receipt:
        """A shopper's feedback. The caller has checked the page's form token; a signed-in member
        of staff browsing the shop is a visitor like any other (and holds the permission)."""
        if not principal.is_anonymous:
            principal.require(Permission.FEEDBACK_SUBMIT)
        fields = {k: v for k, v in _object(payload).items() if k not in SERVER_DECIDED}
        data = FeedbackSubmission.model_validate(fields)
        if _caught(data):
            return self._decoy(data)
        variants = await self._visitor_variants(visitor.distinct_id)
        return await self._store(
            data,
            distinct_id=visitor.distinct_id,
            variants=variants,
            source=FeedbackSource.STOREFRONT,
            submitted_by=None,
            user_agent=user_agent,
            measured=visitor.measured,
            sees_drafts=principal.can(Permission.CATALOG_READ_ALL),
        )

    async def submit_from_app(self, principal: Principal, payload: Any, *, user_agent: str | None) -> Receipt:
        """An app's feedback (a ``client`` key): it names the person and the variants it evaluated."""
        principal.require(Permission.FEEDBACK_SUBMIT)
        data = AppFeedbackSubmission.model_validate(_object(payload))
        if _caught(data):
            return self._decoy(data)
        return await self._store(
            data,
            distinct_id=data.distinct_id,
            variants=dict(data.variants),
            source=FeedbackSource.APP,
            submitted_by=principal.scope,
            user_agent=user_agent,
            measured=True,
            sees_drafts=principal.can(Permission.CATALOG_READ_ALL),
        )

    async def _visitor_variants(self, distinct_id: str) -> dict[str, str]:
        """The provider's answer, bounded; none when it fails (feedback is never lost to flags)."""
        try:
            return bounded_variants(await self._variants.for_visitor(distinct_id))
        except Exception as error:
            log.warning("feedback_variants_unavailable", error=str(error)[:300])
            return {}

    def _decoy(self, data: FeedbackSubmission) -> Receipt:
        metrics.FEEDBACK_SUBMISSIONS.labels("honeypot").inc()
        log.info("feedback_honeypot", rating=data.rating)
        return Receipt(id=new_id(), rating=data.rating, created_at=self._clock.now())

    async def _store(
        self,
        data: FeedbackSubmission,
        *,
        distinct_id: str,
        variants: dict[str, str],
        source: FeedbackSource,
        submitted_by: str | None,
        user_agent: str | None,
        measured: bool,
        sees_drafts: bool,
    ) -> Receipt:
        async with self._uow() as uow:
            if data.product_id is not None:
                # The product must be one the submitter may see: shoppers and apps, active ones.
                product = await uow.products.get(data.product_id)
                if product is None or not (sees_drafts or product.status == ProductStatus.ACTIVE):
                    raise UnknownProduct
            now = self._clock.now()
            feedback = Feedback(
                id=new_id(),
                rating=data.rating,
                text=data.text,
                email=data.email,
                page=data.page,
                product_id=data.product_id,
                variants=variants,
                distinct_id=distinct_id,
                user_agent=user_agent_of(user_agent),
                source=source.value,
                submitted_by=submitted_by,
                created_at=now,
                status=FeedbackStatus.NEW.value,
                note="",
                version=1,
                updated_at=now,
                triaged_by=None,
            )
            uow.feedback.add(feedback)
            purging = self._last_purge is None or now - self._last_purge >= self._purge_interval
            if purging:
                await uow.feedback.erase_emails_before(now - self.email_retention)
            await uow.commit()
            if purging:
                self._last_purge = now
        metrics.FEEDBACK_SUBMISSIONS.labels("stored").inc()
        if measured:
            await self._events.emit(EVENT, distinct_id, _event_properties(feedback))
        return Receipt(id=feedback.id, rating=feedback.rating, created_at=feedback.created_at)

    async def erase_expired_emails(self) -> int:
        """Erase every email past retention now; how many (``shelf feedback erase-emails``)."""
        async with self._uow() as uow:
            erased = await uow.feedback.erase_emails_before(self._clock.now() - self.email_retention)
            await uow.commit()
        return erased

    # Reads ------------------------------------------------------------------------------------

    async def inbox(self, principal: Principal, query: FeedbackQuery) -> FeedbackPage:
        principal.require(Permission.FEEDBACK_READ)
        rows, next_cursor = await self._reader.page(query)
        now = self._clock.now()
        return FeedbackPage(items=[self._read(principal, row, now) for row in rows], next_cursor=next_cursor)

    async def get(self, principal: Principal, feedback_id: uuid.UUID) -> FeedbackRead:
        principal.require(Permission.FEEDBACK_READ)
        found = await self._reader.one(feedback_id)
        if found is None:
            raise FeedbackNotFound
        return self._read(principal, found, self._clock.now())

    async def summary(self, principal: Principal, query: SummaryQuery) -> Summary:
        principal.require(Permission.FEEDBACK_READ)
        counts = await self._reader.rating_counts(query.product)
        today = self._clock.now().date()
        since = week_start(today) - timedelta(weeks=query.weeks - 1)
        start = datetime.combine(since, datetime.min.time(), tzinfo=self._clock.now().tzinfo)
        daily = await self._reader.daily_counts(query.product, start)
        return Summary(
            product_id=query.product,
            count=sum(counts.values()),
            average=average_of(counts),
            distribution={str(rating): counts.get(rating, 0) for rating in RATINGS},
            trend=weekly_trend(daily, weeks=query.weeks, today=today),
        )

    async def products(self, principal: Principal) -> list[tuple[uuid.UUID, str | None, int]]:
        """Products that have feedback (for the inbox's filter), most feedback first."""
        principal.require(Permission.FEEDBACK_READ)
        return await self._reader.products()

    def _read(self, principal: Principal, row: Row, now: datetime) -> FeedbackRead:
        feedback, product_name = row
        email = feedback.email if feedback.created_at >= now - self.email_retention else None
        return FeedbackRead(
            id=feedback.id,
            rating=feedback.rating,
            text=feedback.text,
            email=email if principal.can(Permission.FEEDBACK_READ_PERSONAL) else None,
            has_email=email is not None,
            page=feedback.page,
            product_id=feedback.product_id,
            product_name=product_name,
            variants=dict(feedback.variants),
            distinct_id=feedback.distinct_id,
            user_agent=feedback.user_agent,
            source=FeedbackSource(feedback.source),
            created_at=feedback.created_at,
            status=FeedbackStatus(feedback.status),
            note=feedback.note,
            version=feedback.version,
            updated_at=feedback.updated_at,
            triaged_by=feedback.triaged_by,
        )

    # Triage -----------------------------------------------------------------------------------

    async def triage(
        self, principal: Principal, feedback_id: uuid.UUID, payload: Any, if_match: list[str] | None
    ) -> FeedbackRead:
        """Set the status and/or the note, at the version the caller saw (``If-Match``); audited."""
        principal.require(Permission.FEEDBACK_TRIAGE)
        change = FeedbackTriage.model_validate(_object(payload))
        async with self._uow() as uow:
            feedback = await uow.feedback.get(feedback_id)
            if feedback is None:
                raise FeedbackNotFound
            _check_version(if_match, etag_for(feedback.version))
            product = await uow.products.get(feedback.product_id) if feedback.product_id else None
            row = (feedback, product.name if product is not None else None)
            status = change.status.value if change.status is not None else feedback.status
            note = change.note if change.note is not None else feedback.note
            if (status, note) == (feedback.status, feedback.note):
                return self._read(principal, row, self._clock.now())
            before = _triage_state(feedback)
            feedback.status = status
            feedback.note = note
            feedback.version += 1
            feedback.updated_at = self._clock.now()
            feedback.triaged_by = principal.name
            record(
                uow.audit,
                self._clock,
                principal,
                "feedback.triage",
                entity=("feedback", feedback.id),
                before=before,
                after=_triage_state(feedback),
            )
            try:
                await uow.commit()  # the version column guards against a concurrent triage
            except StaleDataError:
                raise PreconditionFailed(
                    "this feedback was triaged by someone else meanwhile: read it again"
                ) from None
            return self._read(principal, row, self._clock.now())


def _object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput(
            "the body must be a JSON object", [{"field": "body", "message": "expected an object"}]
        )
    return payload


def _caught(data: BaseModel) -> bool:
    """Whether the honeypot field was filled: people never see it, form-filling bots fill it."""
    return bool(getattr(data, "website", "").strip())


def _check_version(if_match: list[str] | None, current: str) -> None:
    if if_match is None:
        raise PreconditionRequired(
            "send 'If-Match' with the ETag you last read, so that two people's triage is not lost"
        )
    if "*" not in if_match and current not in if_match:
        raise PreconditionFailed(
            "this feedback changed since you read it: read it again and reapply your triage",
            current_etag=current,
        )


def _triage_state(feedback: Feedback) -> dict[str, Any]:
    """What the audit log keeps of a triage: never the submitter's email or text."""
    return {
        "status": feedback.status,
        "note": feedback.note,
        "version": feedback.version,
        "triaged_by": feedback.triaged_by,
    }


def _event_properties(feedback: Feedback) -> dict[str, Any]:
    """The analytics event's properties. Variants also as PostHog's ``$feature/<flag>``, so a
    trend of ``feedback_submitted`` can be broken down by the variant a person saw."""
    properties: dict[str, Any] = {
        "feedback_id": str(feedback.id),
        "rating": feedback.rating,
        "product_id": str(feedback.product_id) if feedback.product_id else None,
        "page": feedback.page,
        "source": feedback.source,
        "variants": dict(feedback.variants),
    }
    properties.update({f"$feature/{key}": variant for key, variant in feedback.variants.items()})
    return properties
