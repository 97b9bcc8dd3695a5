"""API shapes of experiments: definitions, their changes, and their results."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from shelf.experiments.models import ExperimentStatus

KEY_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"  # the flags' key syntax (issue 7)
MAX_SECONDARY = 10
MIN_WINDOW = 60
MAX_WINDOW = 90 * 86_400
DEFAULT_WINDOW = 86_400

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
EventName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
VariantKey = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# Fields a running or stopped experiment keeps: changing them would change what was measured.
FIXED_ONCE_STARTED = frozenset({"key", "flag_key", "control_variant", "primary_metric"})


class Metric(BaseModel):
    """``conversion``: the share of exposed people who did ``event`` within ``window_seconds`` of
    their first exposure. ``mean``: the mean per exposed person of the sum of the numeric
    ``property`` of their ``event`` events in that window (people without one count as 0)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["conversion", "mean"] = "conversion"
    event: EventName
    window_seconds: int = Field(DEFAULT_WINDOW, ge=MIN_WINDOW, le=MAX_WINDOW)
    property: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _property_for_means(self) -> Metric:
        if self.kind == "mean" and self.property is None:
            raise ValueError("a mean metric needs the numeric 'property' to average")
        if self.kind == "conversion" and self.property is not None:
            raise ValueError("a conversion metric counts events: leave 'property' out")
        return self


class ExperimentWrite(BaseModel):
    """What an editor sends to create an experiment, and the document a merge patch applies to."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    description: Annotated[str, StringConstraints(max_length=5_000)] = ""
    flag_key: Key
    control_variant: VariantKey = "control"
    primary_metric: Metric
    secondary_metrics: list[Metric] = Field(default_factory=list, max_length=MAX_SECONDARY)
    minimum_sample: int = Field(100, ge=1, le=10_000_000)


class ExperimentRead(ExperimentWrite):
    id: uuid.UUID
    status: ExperimentStatus
    started_at: datetime | None
    stopped_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class ExperimentPage(BaseModel):
    items: list[ExperimentRead]


# Results --------------------------------------------------------------------------------------------


class Bounds(BaseModel):
    low: float
    high: float


class VariantResult(BaseModel):
    variant: str
    is_control: bool
    exposures: int  # people exposed to this variant only
    conversions: int  # of them, people with the metric's event in the window
    rate: float | None  # conversions / exposures
    mean: float | None  # mean metrics: per-person mean of the property's sum
    standard_deviation: float | None
    difference: float | None  # vs the control: rate (or mean) minus the control's
    difference_interval: Bounds | None
    lift: float | None  # vs the control, relative: 0.1 is +10%
    lift_interval: Bounds | None  # 95%
    p_value: float | None
    chance_to_win: float | None


class SeriesPoint(BaseModel):
    """Cumulative figures at the end of a UTC day, by the day of each person's first exposure."""

    day: datetime
    variant: str
    exposures: int
    conversions: int
    rate: float | None


class MetricResult(BaseModel):
    metric: Metric
    variants: list[VariantResult]
    series: list[SeriesPoint]


class SampleRatioCheck(BaseModel):
    statistic: float
    p_value: float
    mismatch: bool
    threshold: float
    expected: dict[str, float]
    weights: dict[str, float]


class ExperimentResults(BaseModel):
    experiment_id: uuid.UUID
    key: str
    flag_key: str
    status: ExperimentStatus
    start: datetime
    end: datetime  # when it stopped, or now
    exposed: int  # people counted, all variants
    excluded_multiple_variants: int  # people exposed to more than one variant: not counted
    unknown_variants: dict[str, int]  # exposures to variants the flag does not declare (not counted)
    sample_ratio: SampleRatioCheck | None
    primary: MetricResult
    secondary: list[MetricResult]
    warnings: list[str]
