"""API shapes of the analytics queries: their parameters (unknown ones refused) and answers.

Capture bodies have no schema here on purpose: they come in the shapes PostHog's SDKs send and
are checked by ``capture.normalise`` without a model per event.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Interval = Literal["hour", "day", "week", "month"]
Period = Literal["day", "week"]
EVENT_NAME = Field(min_length=1, max_length=200)
_WINDOW = re.compile(r"^(\d{1,7})([smhdw]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
MAX_WINDOW_SECONDS = 180 * 86400


def parse_window(text: str) -> int:
    """``"1d"``, ``"12h"``, ``"30m"``, ``"2w"`` or plain seconds, as seconds."""
    match = _WINDOW.match(text.strip().lower())
    if match is None:
        raise ValueError("write the window as a number and a unit: 30m, 12h, 1d, 2w")
    seconds = int(match[1]) * _UNIT_SECONDS[match[2]]
    if not 0 < seconds <= MAX_WINDOW_SECONDS:
        raise ValueError("the window must be between 1 second and 180 days")
    return seconds


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    start: datetime | None = Field(default=None, alias="from", description="ISO 8601; default depends")
    end: datetime | None = Field(default=None, alias="to", description="ISO 8601, exclusive; default now")


class TrendsQuery(_Query):
    event: str = EVENT_NAME
    interval: Interval = "day"
    breakdown: str | None = Field(default=None, min_length=1, max_length=200, description="a property")
    breakdown_limit: int = Field(default=10, ge=1, le=50)


class ActiveUsersQuery(_Query):
    event: str | None = Field(default=None, min_length=1, max_length=200, description="any event if absent")


class FunnelQuery(_Query):
    steps: str = Field(description="comma-separated event names, in order (2 to 10)", max_length=2100)
    window: str = Field(default="1d", description="conversion window from the first step: 30m, 12h, 1d")

    @field_validator("steps")
    @classmethod
    def _two_to_ten_steps(cls, steps: str) -> str:
        names = [name.strip() for name in steps.split(",")]
        if not 2 <= len(names) <= 10 or not all(0 < len(name) <= 200 for name in names):
            raise ValueError("give 2 to 10 comma-separated event names")
        return ",".join(names)

    @field_validator("window")
    @classmethod
    def _valid_window(cls, window: str) -> str:
        parse_window(window)
        return window

    @property
    def step_names(self) -> list[str]:
        return self.steps.split(",")


class RetentionQuery(_Query):
    start_event: str = EVENT_NAME
    return_event: str = EVENT_NAME
    period: Period = "week"
    periods: int = Field(default=8, ge=1, le=52)


class TopProductsQuery(_Query):
    limit: int = Field(default=10, ge=1, le=100)


class TrendPoint(BaseModel):
    start: datetime
    count: int
    unique_users: int


class Breakdown(BaseModel):
    value: str | None  # None: the events without that property
    series: list[TrendPoint]


class Trends(BaseModel):
    event: str
    interval: Interval
    start: datetime
    end: datetime
    series: list[TrendPoint]
    breakdown: str | None = None
    breakdowns: list[Breakdown] | None = None


class ActiveUsersPoint(BaseModel):
    day: datetime
    dau: int
    wau: int  # distinct users over the 7 days ending with this one
    mau: int  # over the 30 days ending with this one


class ActiveUsers(BaseModel):
    event: str | None
    series: list[ActiveUsersPoint]


class FunnelStep(BaseModel):
    event: str
    count: int
    conversion: float  # share of the people who entered the funnel
    conversion_from_previous: float
    drop_off: int  # people who reached the previous step and not this one
    median_seconds_from_previous: float | None


class Funnel(BaseModel):
    start: datetime
    end: datetime
    window_seconds: int
    steps: list[FunnelStep]
    median_seconds_to_convert: float | None  # first step to last, for those who made it


class Cohort(BaseModel):
    start: datetime
    size: int
    returned: list[int]  # returned[k]: people active in period k after the cohort's (returned[0] = size)
    share: list[float]


class Retention(BaseModel):
    start_event: str
    return_event: str
    period: Period
    cohorts: list[Cohort]


class ProductStat(BaseModel):
    product_id: str
    views: int
    add_to_cart: int
    add_to_cart_rate: float | None  # add_to_cart / views, None without views


class TopProducts(BaseModel):
    start: datetime
    end: datetime
    by_views: list[ProductStat]
    by_add_to_cart: list[ProductStat]


class CaptureAccepted(BaseModel):
    accepted: int
