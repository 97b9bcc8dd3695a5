"""The statistics of an experiment's results: pure functions of counts and sums, no database.

Frequentist part (fixed horizon, ADR 0015):

- conversion metrics compare rates ``c / n``; the relative lift ``p_t / p_c - 1`` gets a 95%
  interval by the delta method on the log of the ratio (Katz), the interval
  ``scipy.stats.contingency.relative_risk`` gives: asymmetric, never below -100%;
- the two-sided p-value of a difference in rates is the pooled two-proportion z-test (the same as
  Pearson's χ² on the 2x2 table without continuity correction);
- mean metrics compare per-person means with Welch's t interval on the difference (unequal
  variances, Welch-Satterthwaite degrees of freedom) and the relative lift by the delta method on
  the ratio of means (normal quantile).

Bayesian part: each variant's rate (or mean) has an approximately normal posterior
``N(estimate, standard_error²)`` (flat prior, large sample); the chance that a variant is the best
is ``P(X_i > max_j X_j)``, in closed form for two variants and by numerical integration of
``∫ φ_i(x) ∏_{j≠i} Φ_j(x) dx`` for more.

Sample-ratio mismatch: Pearson's χ² goodness of fit of the exposures per variant against the
flag's weights; a p-value below ``SRM_THRESHOLD`` means the split is broken and the results
should not be trusted.

Only :mod:`math` is used at run time; the special functions (regularised incomplete beta and
gamma) follow Numerical Recipes (Lentz's continued fractions) and the tests compare every
function with scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

CONFIDENCE = 0.95
SRM_THRESHOLD = 0.001
_STANDARD = NormalDist()
_EPSILON = 1e-15
_TINY = 1e-300
_MAX_ITERATIONS = 20_000  # the fractions converge in about sqrt(max(a, b)) steps


# Distributions --------------------------------------------------------------------------------


def normal_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def normal_ppf(q: float) -> float:
    """The standard normal quantile (``scipy.stats.norm.ppf``)."""
    return _STANDARD.inv_cdf(q)


def _continued_fraction_beta(a: float, b: float, x: float) -> float:
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_ITERATIONS):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            delta = c * d
            h *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return h


def _stirling_correction(z: float) -> float:
    return 1.0 / (12.0 * z) - 1.0 / (360.0 * z**3) + 1.0 / (1260.0 * z**5)


def _log_beta_front(a: float, b: float) -> float:
    """``lgamma(a + b) - lgamma(a) - lgamma(b)``, without the cancellation the direct form
    suffers when one of them is large (Welch's degrees of freedom reach the millions)."""
    small, big = min(a, b), max(a, b)
    if big < 50.0:
        return math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    ratio = (  # lgamma(big + small) - lgamma(big), by Stirling's series
        (big - 0.5) * math.log1p(small / big)
        + small * math.log(big + small)
        - small
        + _stirling_correction(big + small)
        - _stirling_correction(big)
    )
    return ratio - math.lgamma(small)


def regularized_beta(a: float, b: float, x: float, y: float | None = None) -> float:
    """``I_x(a, b)`` (``scipy.special.betainc``). ``y`` is ``1 - x`` when the caller knows it more
    precisely than the subtraction would give it (x close to 1)."""
    y = 1.0 - x if y is None else y
    if x <= 0.0:
        return 0.0
    if y <= 0.0:
        return 1.0
    log_front = _log_beta_front(a, b) + a * math.log(x) + b * math.log(y)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _continued_fraction_beta(a, b, x) / a
    return 1.0 - math.exp(log_front) * _continued_fraction_beta(b, a, y) / b


def t_cdf(t: float, df: float) -> float:
    """Student's t distribution function (``scipy.stats.t.cdf``), any real ``df > 0``."""
    square = t * t
    x, y = df / (df + square), square / (df + square)
    if y < 0.5:  # near the centre: I_y(1/2, df/2) is the precise one
        centre = 0.5 * regularized_beta(0.5, df / 2.0, y, x)
        return 0.5 + centre if t > 0 else 0.5 - centre
    tail = 0.5 * regularized_beta(df / 2.0, 0.5, x, y)
    return 1.0 - tail if t > 0 else tail


def t_ppf(q: float, df: float) -> float:
    """Student's t quantile (``scipy.stats.t.ppf``), by bisection on :func:`t_cdf`."""
    if not 0.0 < q < 1.0:
        raise ValueError("q must be between 0 and 1")
    if q < 0.5:
        return -t_ppf(1.0 - q, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < q:
        low, high = high, high * 2.0
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < q:
            low = middle
        else:
            high = middle
        if high - low <= 1e-13 * max(1.0, high):
            break
    return (low + high) / 2.0


def _lower_gamma_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITERATIONS):
        denominator += 1.0
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPSILON:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _upper_gamma_fraction(a: float, x: float) -> float:
    b = x + 1.0 - a
    c, d = 1.0 / _TINY, 1.0 / b
    h = d
    for i in range(1, _MAX_ITERATIONS):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = b + an / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPSILON:
            break
    return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h


def chi2_sf(x: float, df: int) -> float:
    """The χ² survival function (``scipy.stats.chi2.sf``): the regularised upper gamma Q(df/2, x/2)."""
    if x <= 0.0:
        return 1.0
    a, half = df / 2.0, x / 2.0
    if half == 0.0:  # x / 2 underflowed
        return 1.0
    if half < a + 1.0:
        return 1.0 - _lower_gamma_series(a, half)
    return _upper_gamma_fraction(a, half)


# Shapes -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """A variant against the control."""

    lift: float | None  # relative: 0.1 is +10%
    lift_interval: Interval | None
    difference: float  # absolute: rate or mean of the variant minus the control's
    difference_interval: Interval | None
    p_value: float | None


@dataclass(frozen=True)
class SampleRatio:
    statistic: float
    p_value: float
    mismatch: bool  # p below SRM_THRESHOLD
    expected: list[float]


# Conversion metrics -----------------------------------------------------------------------------


def rate(conversions: int, exposures: int) -> float | None:
    return conversions / exposures if exposures else None


def rate_standard_error(conversions: int, exposures: int) -> float | None:
    if not exposures:
        return None
    p = conversions / exposures
    return math.sqrt(p * (1.0 - p) / exposures)


def compare_rates(
    control: tuple[int, int], variant: tuple[int, int], confidence: float = CONFIDENCE
) -> Comparison | None:
    """``control`` and ``variant`` are ``(conversions, exposures)``; None without exposures."""
    (c_conv, c_n), (t_conv, t_n) = control, variant
    if not c_n or not t_n:
        return None
    z = normal_ppf(0.5 + confidence / 2.0)
    p_c, p_t = c_conv / c_n, t_conv / t_n
    difference = p_t - p_c
    se = math.sqrt(p_c * (1 - p_c) / c_n + p_t * (1 - p_t) / t_n)
    difference_interval = Interval(difference - z * se, difference + z * se)
    lift = lift_interval = None
    if c_conv:
        lift = p_t / p_c - 1.0
        if t_conv:
            log_se = math.sqrt(1 / t_conv - 1 / t_n + 1 / c_conv - 1 / c_n)
            log_ratio = math.log(p_t / p_c)
            lift_interval = Interval(
                math.exp(log_ratio - z * log_se) - 1.0, math.exp(log_ratio + z * log_se) - 1.0
            )
    return Comparison(
        lift, lift_interval, difference, difference_interval, two_proportion_p_value(control, variant)
    )


def two_proportion_p_value(control: tuple[int, int], variant: tuple[int, int]) -> float | None:
    """Two-sided p-value of the pooled z-test for equal rates."""
    (c_conv, c_n), (t_conv, t_n) = control, variant
    pooled = (c_conv + t_conv) / (c_n + t_n)
    if pooled in (0.0, 1.0):
        return None  # nobody (or everybody) converted: no evidence either way
    se = math.sqrt(pooled * (1 - pooled) * (1 / c_n + 1 / t_n))
    z = (t_conv / t_n - c_conv / c_n) / se
    return math.erfc(abs(z) / math.sqrt(2.0))


# Mean metrics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """Per-person values of one variant, as counts and sums (what the query returns)."""

    n: int
    total: float  # sum of the values
    total_squares: float  # sum of their squares

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """The unbiased sample variance (``ddof=1``)."""
        if self.n < 2:
            return None
        return max(0.0, (self.total_squares - self.total * self.total / self.n) / (self.n - 1))

    @classmethod
    def of(cls, values: Sequence[float]) -> Sample:
        return cls(len(values), float(sum(values)), float(sum(v * v for v in values)))


def welch_degrees_of_freedom(control: Sample, variant: Sample) -> float | None:
    if control.variance is None or variant.variance is None:
        return None
    a, b = control.variance / control.n, variant.variance / variant.n
    if a + b == 0.0:
        return None
    return (a + b) ** 2 / (a * a / (control.n - 1) + b * b / (variant.n - 1))


def compare_means(control: Sample, variant: Sample, confidence: float = CONFIDENCE) -> Comparison | None:
    """Welch's t interval and p-value on the difference of means, delta-method interval on the lift."""
    if control.mean is None or variant.mean is None:
        return None
    difference = variant.mean - control.mean
    lift = variant.mean / control.mean - 1.0 if control.mean else None
    df = welch_degrees_of_freedom(control, variant)
    if df is None or control.variance is None or variant.variance is None:
        return Comparison(lift, None, difference, None, None)
    var_c, var_t = control.variance / control.n, variant.variance / variant.n
    se = math.sqrt(var_c + var_t)
    t = t_ppf(0.5 + confidence / 2.0, df)
    difference_interval = Interval(difference - t * se, difference + t * se)
    p_value = 2.0 * (1.0 - t_cdf(abs(difference) / se, df))
    lift_interval = None
    if control.mean:
        ratio = variant.mean / control.mean
        ratio_se = math.sqrt(var_t / control.mean**2 + ratio**2 * var_c / control.mean**2)
        z = normal_ppf(0.5 + confidence / 2.0)
        lift_interval = Interval(ratio - 1.0 - z * ratio_se, ratio - 1.0 + z * ratio_se)
    return Comparison(lift, lift_interval, difference, difference_interval, p_value)


# Bayesian chance to win -------------------------------------------------------------------------


def chance_to_win(estimates: Sequence[tuple[float, float]], points: int = 2_001) -> list[float]:
    """``P(X_i is the largest)`` for independent ``X_i ~ N(mean_i, se_i²)``, given ``(mean, se)``.

    Two variants: ``Φ((m_1 - m_2) / sqrt(se_1² + se_2²))``. More: Simpson's rule over
    ``mean_i ± 8 se_i`` of ``φ_i(x) ∏_{j≠i} Φ_j(x)``. A variant with ``se == 0`` is a point mass.
    """
    if not estimates:
        return []
    if len(estimates) == 1:
        return [1.0]
    if len(estimates) == 2:
        (m1, s1), (m2, s2) = estimates
        spread = math.hypot(s1, s2)
        if spread == 0.0:
            return [1.0, 0.0] if m1 > m2 else [0.0, 1.0] if m2 > m1 else [0.5, 0.5]
        first = normal_cdf((m1 - m2) / spread)
        return [first, 1.0 - first]
    chances = [_chance_best(index, estimates, points) for index in range(len(estimates))]
    total = sum(chances)
    return [chance / total for chance in chances] if total else [1.0 / len(chances)] * len(chances)


def _others_below(x: float, index: int, estimates: Sequence[tuple[float, float]]) -> float:
    product = 1.0
    for other, (mean, se) in enumerate(estimates):
        if other != index:
            product *= normal_cdf((x - mean) / se) if se > 0 else (1.0 if x > mean else 0.0)
    return product


def _chance_best(index: int, estimates: Sequence[tuple[float, float]], points: int) -> float:
    mean, se = estimates[index]
    if se == 0.0:
        return _others_below(mean, index, estimates)
    low, high = mean - 8.0 * se, mean + 8.0 * se
    intervals = points - 1 if (points - 1) % 2 == 0 else points
    step = (high - low) / intervals
    total = 0.0
    for k in range(intervals + 1):
        x = low + k * step
        weight = 1.0 if k in (0, intervals) else (4.0 if k % 2 else 2.0)
        density = math.exp(-0.5 * ((x - mean) / se) ** 2) / (se * math.sqrt(2.0 * math.pi))
        total += weight * density * _others_below(x, index, estimates)
    return total * step / 3.0


# Sample-ratio mismatch and sample sizes --------------------------------------------------------


def sample_ratio_mismatch(observed: Sequence[int], weights: Sequence[float]) -> SampleRatio | None:
    """Pearson's χ² goodness of fit of the exposures against the flag's weights
    (``scipy.stats.chisquare(observed, expected)``). None with fewer than two variants or no one."""
    total = sum(observed)
    weight_total = sum(weights)
    if len(observed) != len(weights) or len(observed) < 2 or not total or weight_total <= 0:
        return None
    expected = [total * weight / weight_total for weight in weights]
    if any(e == 0.0 for e in expected):
        return None
    statistic = sum((o - e) ** 2 / e for o, e in zip(observed, expected, strict=True))
    p_value = chi2_sf(statistic, len(observed) - 1)
    return SampleRatio(statistic, p_value, p_value < SRM_THRESHOLD, expected)


def below_minimum(exposures: dict[str, int], minimum: int) -> list[str]:
    """The variants (in the given order) with fewer exposed people than ``minimum``."""
    return [variant for variant, count in exposures.items() if count < minimum]
