"""API shapes of feedback: what submitters send, what staff send to triage, and what they read.

Every bound is declared here once; the storefront's form, its script and the API use the same
limits (the form's ``maxlength`` comes from ``MAX_TEXT``).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from shelf.feedback.models import FeedbackSource, FeedbackStatus

MAX_TEXT = 2_000
MAX_NOTE = 2_000
MAX_EMAIL = 254
MAX_PAGE = 512
MAX_DISTINCT_ID = 200
MAX_USER_AGENT = 256
MAX_VARIANTS = 50
MAX_VARIANT_KEY = 100
MAX_VARIANT_VALUE = 100
MAX_HONEYPOT = 2_000
VARIANT_KEY = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.:-]{{0,{MAX_VARIANT_KEY - 1}}}")
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")  # local@host.domain, as people write it
# Fields whose value the server decides for a storefront visitor: sent by a page, they are ignored.
SERVER_DECIDED = frozenset({"distinct_id", "variants", "csrf_token"})


def _control_free(text: str, allowed: str = "") -> bool:
    return not any(unicodedata.category(c) == "Cc" and c not in allowed for c in text)


def clean_text(raw: str) -> str:
    """Trimmed, NFC, line breaks as ``\\n`` (a browser posts a textarea's as ``\\r\\n``: counted
    once, as the page's counter counts them), tabs kept, no other control characters."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not _control_free(text, "\n\t"):
        raise ValueError("must not contain control characters other than line breaks and tabs")
    return text


def _clean_line(raw: str) -> str:
    text = unicodedata.normalize("NFC", raw.strip())
    if not _control_free(text):
        raise ValueError("must not contain control characters")
    return text


def _at_most(limit: int) -> AfterValidator:
    def check(text: str) -> str:
        if len(text) > limit:
            raise ValueError(f"must be at most {limit:,} characters long (it has {len(text):,})")
        return text

    return AfterValidator(check)


def _rating(value: Any) -> Any:
    """1 to 5, as a JSON integer; never a boolean, a fraction or a string."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise ValueError("must be a whole number from 1 to 5")
    return value


def _email(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("must be an email address, or left out")
    email = value.strip()
    if not email:
        return None  # an empty field of the form means "no email"
    if len(email) > MAX_EMAIL or not _EMAIL.fullmatch(email):
        raise ValueError("must be an email address such as name@example.com, or left out")
    return email


def _page(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise ValueError("must be a path on the site, such as /products")
    page = value.strip()
    if len(page) > MAX_PAGE:
        raise ValueError(f"must be at most {MAX_PAGE} characters long")
    if not page.startswith("/") or page.startswith("//") or "\\" in page or not _control_free(page):
        raise ValueError("must be a path on the site, starting with a single '/', such as /products")
    return page


def _optional_id(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _variant_entry(key: Any, value: Any) -> str | None:
    """Why the entry is not a flag variant, or None when it is one."""
    if not isinstance(key, str) or not VARIANT_KEY.fullmatch(key):
        return f"flag keys are 1-{MAX_VARIANT_KEY} letters, digits, '_', '.', ':' or '-'"
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_VARIANT_VALUE or not _control_free(value):
        return f"a variant is text of 1-{MAX_VARIANT_VALUE} characters"
    return None


def _variants(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of flag key to variant")
    if len(value) > MAX_VARIANTS:
        raise ValueError(f"may name at most {MAX_VARIANTS} flags")
    for key, variant in value.items():
        wrong = _variant_entry(key, variant)
        if wrong:
            raise ValueError(f"{str(key)[:40]!r}: {wrong}")
    return value


def bounded_variants(found: Any) -> dict[str, str]:
    """What a flag provider reported, kept within the same bounds (invalid entries left out)."""
    if not isinstance(found, dict):
        return {}
    valid = {k: v for k, v in sorted(found.items(), key=lambda kv: str(kv[0])) if not _variant_entry(k, v)}
    return dict(list(valid.items())[:MAX_VARIANTS])


def user_agent_of(raw: str | None) -> str | None:
    """The request's ``User-Agent``, printable and cut to ``MAX_USER_AGENT`` characters."""
    if not raw:
        return None
    printable = "".join(c for c in raw if unicodedata.category(c) != "Cc").strip()
    return printable[:MAX_USER_AGENT] or None


Rating = Annotated[int, BeforeValidator(_rating)]
Text = Annotated[str, AfterValidator(clean_text), _at_most(MAX_TEXT)]
Note = Annotated[str, AfterValidator(clean_text), _at_most(MAX_NOTE)]
Email = Annotated[str | None, BeforeValidator(_email)]
Page = Annotated[str | None, BeforeValidator(_page)]
ProductId = Annotated[uuid.UUID | None, BeforeValidator(_optional_id)]
DistinctId = Annotated[str, AfterValidator(_clean_line), Field(min_length=1, max_length=MAX_DISTINCT_ID)]
Variants = Annotated[dict[str, str], BeforeValidator(_variants)]


class FeedbackSubmission(BaseModel):
    """What a storefront visitor sends. ``website`` is the honeypot: people leave it empty."""

    model_config = ConfigDict(extra="forbid")

    rating: Rating
    text: Text = ""
    email: Email = None
    page: Page = None
    product_id: ProductId = None
    website: Annotated[str, Field(max_length=MAX_HONEYPOT)] = ""


class AppFeedbackSubmission(FeedbackSubmission):
    """What an app sends: also who the person is to it, and the flag variants it evaluated."""

    distinct_id: DistinctId
    variants: Variants = Field(default_factory=dict)


class FeedbackTriage(BaseModel):
    """A triage: a new status, a note, or both."""

    model_config = ConfigDict(extra="forbid")

    status: FeedbackStatus | None = None
    note: Note | None = None

    @model_validator(mode="after")
    def _something(self) -> FeedbackTriage:
        if self.status is None and self.note is None:
            raise ValueError("send 'status', 'note' or both")
        return self


def _utc(value: datetime | None) -> datetime | None:
    """A time filter in UTC; one without an offset is read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcFilter = Annotated[datetime | None, AfterValidator(_utc)]


class FeedbackQuery(BaseModel):
    """Query parameters of ``GET /feedback``. Unknown parameters are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    product: uuid.UUID | None = None
    rating: Annotated[int, Field(ge=1, le=5)] | None = None
    rating_min: Annotated[int, Field(ge=1, le=5)] | None = None
    rating_max: Annotated[int, Field(ge=1, le=5)] | None = None
    status: FeedbackStatus | None = None
    since: UtcFilter = None  # created at or after
    until: UtcFilter = None  # created before
    q: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, Field(max_length=512)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FeedbackQuery:
        if self.rating is not None and (self.rating_min is not None or self.rating_max is not None):
            raise ValueError("filter by 'rating' or by 'rating_min'/'rating_max', not both")
        if self.rating_min is not None and self.rating_max is not None and self.rating_min > self.rating_max:
            raise ValueError("'rating_min' must not be above 'rating_max'")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("'since' must be before 'until'")
        if self.q is not None and not self.q.strip():
            self.q = None
        return self


class SummaryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product: uuid.UUID | None = None  # none: all feedback
    weeks: Annotated[int, Field(ge=1, le=104)] = 12  # the trend's length, ending with this week


class Receipt(BaseModel):
    """The answer to a submission. A submission the honeypot caught gets one too, never stored."""

    id: uuid.UUID
    rating: int
    created_at: datetime


class FeedbackRead(BaseModel):
    id: uuid.UUID
    rating: int
    text: str
    email: str | None  # only for those who may read personal data, and only within retention
    has_email: bool
    page: str | None
    product_id: uuid.UUID | None
    product_name: str | None  # None when there is no product, or it was deleted since
    variants: dict[str, str]
    distinct_id: str
    user_agent: str | None
    source: FeedbackSource
    created_at: datetime
    status: FeedbackStatus
    note: str
    version: int
    updated_at: datetime
    triaged_by: str | None


class FeedbackPage(BaseModel):
    items: list[FeedbackRead]
    next_cursor: str | None


class WeekTrend(BaseModel):
    week_start: date  # the Monday (UTC) the ISO week begins on
    count: int
    average: str | None  # exact, two decimals; None for a week without feedback


class Summary(BaseModel):
    product_id: uuid.UUID | None
    count: int
    average: str | None  # exact decimal with two places, as a string ("4.33"); None without feedback
    distribution: dict[str, int]  # "1".."5" -> how many
    trend: list[WeekTrend]
