"""From what the query counted to what the results page shows: statistics per variant, the
sample-ratio check and the warnings. Pure: no database, no clock."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from shelf.experiments import statistics as stats
from shelf.experiments.flag_lookup import FlagVariant
from shelf.experiments.queries import Outcome, VariantTotals
from shelf.experiments.schemas import (
    Bounds,
    Metric,
    MetricResult,
    SampleRatioCheck,
    SeriesPoint,
    VariantResult,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EXCLUDED_WARNING_SHARE = 0.05


def variant_order(control: str, flag_variants: list[FlagVariant] | None, seen: list[str]) -> list[str]:
    """The control first, then the flag's other variants as declared (or, without the flag, the
    variants the events name, alphabetically)."""
    declared = [v.key for v in flag_variants] if flag_variants is not None else sorted(seen)
    return [control] + [key for key in declared if key != control]


def _bounds(interval: stats.Interval | None) -> Bounds | None:
    return Bounds(low=interval.low, high=interval.high) if interval is not None else None


def _sample(totals: VariantTotals) -> stats.Sample:
    return stats.Sample(totals.exposures, totals.total, totals.total_squares)


def metric_result(metric: Metric, outcome: Outcome, variants: list[str]) -> MetricResult:
    control_name = variants[0]
    totals = {name: outcome.variants.get(name, VariantTotals()) for name in variants}
    control = totals[control_name]
    estimates: list[tuple[float, float]] = []
    rows: list[VariantResult] = []
    for name in variants:
        mine = totals[name]
        sample = _sample(mine)
        if metric.kind == "conversion":
            comparison = stats.compare_rates(
                (control.converted, control.exposures), (mine.converted, mine.exposures)
            )
            estimate = stats.rate(mine.converted, mine.exposures)
            spread = stats.rate_standard_error(mine.converted, mine.exposures)
        else:
            comparison = stats.compare_means(_sample(control), sample)
            estimate = sample.mean
            spread = math.sqrt(sample.variance / sample.n) if sample.variance is not None else None
        if estimate is not None and spread is not None:
            estimates.append((estimate, spread))
        is_control = name == control_name
        rows.append(
            VariantResult(
                variant=name,
                is_control=is_control,
                exposures=mine.exposures,
                conversions=mine.converted,
                rate=stats.rate(mine.converted, mine.exposures),
                mean=sample.mean if metric.kind == "mean" else None,
                standard_deviation=math.sqrt(sample.variance)
                if metric.kind == "mean" and sample.variance is not None
                else None,
                difference=None if is_control or comparison is None else comparison.difference,
                difference_interval=None
                if is_control or comparison is None
                else _bounds(comparison.difference_interval),
                lift=None if is_control or comparison is None else comparison.lift,
                lift_interval=None if is_control or comparison is None else _bounds(comparison.lift_interval),
                p_value=None if is_control or comparison is None else comparison.p_value,
                chance_to_win=None,
            )
        )
    # Chance to win among the variants that have an estimate (each needs people and, for means, two).
    if len(estimates) == len(rows) and len(rows) >= 2:
        for row, chance in zip(rows, stats.chance_to_win(estimates), strict=True):
            row.chance_to_win = chance
    return MetricResult(metric=metric, variants=rows, series=series(outcome, variants))


def series(outcome: Outcome, variants: list[str]) -> list[SeriesPoint]:
    """Cumulative exposures and conversions per variant for every day from the first exposure."""
    all_days = [d.day for name in variants for d in outcome.days.get(name, [])]
    if not all_days:
        return []
    points: list[SeriesPoint] = []
    for name in variants:
        by_day = {d.day: d for d in outcome.days.get(name, [])}
        exposures = conversions = 0
        for day in range(min(all_days), max(all_days) + 1):
            if day in by_day:
                exposures += by_day[day].exposures
                conversions += by_day[day].converted
            points.append(
                SeriesPoint(
                    day=EPOCH + timedelta(days=day),
                    variant=name,
                    exposures=exposures,
                    conversions=conversions,
                    rate=conversions / exposures if exposures else None,
                )
            )
    return points


def sample_ratio(
    variants: list[str], exposures: dict[str, int], flag_variants: list[FlagVariant] | None
) -> SampleRatioCheck | None:
    if flag_variants is None:
        return None
    weights = {v.key: v.weight for v in flag_variants}
    if any(name not in weights for name in variants):
        return None
    observed = [exposures.get(name, 0) for name in variants]
    checked = stats.sample_ratio_mismatch(observed, [weights[name] for name in variants])
    if checked is None:
        return None
    return SampleRatioCheck(
        statistic=checked.statistic,
        p_value=checked.p_value,
        mismatch=checked.mismatch,
        threshold=stats.SRM_THRESHOLD,
        expected=dict(zip(variants, checked.expected, strict=True)),
        weights={name: weights[name] for name in variants},
    )


def warnings_for(
    *,
    variants: list[str],
    exposures: dict[str, int],
    minimum: int,
    excluded: int,
    unknown: dict[str, int],
    srm: SampleRatioCheck | None,
    flag_known: bool,
) -> list[str]:
    warnings = [
        f"'{name}' has {exposures.get(name, 0):,} exposed people, fewer than the minimum of"
        f" {minimum:,}: too few to trust the figures yet"
        for name in stats.below_minimum({name: exposures.get(name, 0) for name in variants}, minimum)
    ]
    if srm is not None and srm.mismatch:
        warnings.append(
            f"sample ratio mismatch (p = {srm.p_value:.2g} < {srm.threshold}): the split of people"
            " differs from the flag's weights, so the assignment or the exposure logging is broken;"
            " do not trust these results"
        )
    counted = sum(exposures.get(name, 0) for name in variants)
    if excluded and excluded > EXCLUDED_WARNING_SHARE * (counted + excluded):
        warnings.append(
            f"{excluded:,} people saw more than one variant and were left out: more than"
            f" {EXCLUDED_WARNING_SHARE:.0%} of those exposed"
        )
    if unknown:
        named = ", ".join(f"'{key}' ({count:,})" for key, count in sorted(unknown.items()))
        warnings.append(f"exposures to variants the flag does not declare were left out: {named}")
    if not flag_known:
        warnings.append("the flag no longer exists: no sample-ratio check against its weights")
    return warnings
