"""experiments/statistics.py against scipy's reference implementations, value by value and as
properties over generated inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special
from scipy import stats as sps
from scipy.stats.contingency import relative_risk

from shelf.experiments import statistics as s

counts = st.integers(min_value=1, max_value=200_000)


def close(actual: float | None, expected: float, rel: float = 1e-9, abs_: float = 1e-12) -> bool:
    return actual is not None and math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_)


# Distributions ------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [1e-9, 0.001, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999999])
def test_normal_quantile_matches_scipy(q: float) -> None:
    assert close(s.normal_ppf(q), float(sps.norm.ppf(q)), rel=1e-12)


@given(st.floats(min_value=-30, max_value=30))
def test_normal_cdf_matches_scipy(x: float) -> None:
    assert close(s.normal_cdf(x), float(sps.norm.cdf(x)), rel=1e-12, abs_=1e-300)


@given(
    st.floats(min_value=0.05, max_value=5_000),
    st.floats(min_value=0.05, max_value=5_000),
    st.floats(min_value=0.0, max_value=1.0),
)
def test_regularized_beta_matches_scipy(a: float, b: float, x: float) -> None:
    assert close(s.regularized_beta(a, b, x), float(special.betainc(a, b, x)), rel=1e-8, abs_=1e-12)


@given(st.floats(min_value=-50, max_value=50), st.floats(min_value=0.5, max_value=1e6))
def test_t_cdf_matches_scipy(t: float, df: float) -> None:
    assert close(s.t_cdf(t, df), float(sps.t.cdf(t, df)), rel=1e-8, abs_=1e-12)


@pytest.mark.parametrize("df", [1.0, 2.5, 7.3, 30.0, 119.4, 5_000.0, 1e6])
@pytest.mark.parametrize("q", [0.005, 0.025, 0.5, 0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(q: float, df: float) -> None:
    assert close(s.t_ppf(q, df), float(sps.t.ppf(q, df)), rel=1e-9, abs_=1e-12)


@given(st.floats(min_value=0.0, max_value=400.0), st.integers(min_value=1, max_value=40))
def test_chi2_survival_matches_scipy(x: float, df: int) -> None:
    assert close(s.chi2_sf(x, df), float(sps.chi2.sf(x, df)), rel=1e-8, abs_=1e-14)


# Conversions ----------------------------------------------------------------------------------------


def test_lift_interval_of_a_known_case_matches_scipys_relative_risk() -> None:
    # control 120 of 1000 (12%), gallery 150 of 1000 (15%): +25%
    comparison = s.compare_rates((120, 1000), (150, 1000))
    assert comparison is not None
    reference = relative_risk(150, 1000, 120, 1000)
    ci = reference.confidence_interval(confidence_level=0.95)
    assert close(comparison.lift, reference.relative_risk - 1.0, rel=1e-12)
    assert comparison.lift_interval is not None
    assert close(comparison.lift_interval.low, ci.low - 1.0, rel=1e-10)
    assert close(comparison.lift_interval.high, ci.high - 1.0, rel=1e-10)
    assert comparison.lift == pytest.approx(0.25)
    assert comparison.lift_interval.low < 0 < comparison.lift_interval.high  # not significant here


@settings(max_examples=200)
@given(counts, counts, st.data())
def test_rate_comparison_matches_scipy(n_c: int, n_t: int, data: st.DataObject) -> None:
    c = data.draw(st.integers(min_value=1, max_value=n_c))
    t = data.draw(st.integers(min_value=1, max_value=n_t))
    comparison = s.compare_rates((c, n_c), (t, n_t))
    assert comparison is not None
    reference = relative_risk(t, n_t, c, n_c)
    ci = reference.confidence_interval(confidence_level=0.95)
    assert close(comparison.lift, reference.relative_risk - 1.0, rel=1e-9)
    assert comparison.lift_interval is not None
    assert close(comparison.lift_interval.low, ci.low - 1.0, rel=1e-8, abs_=1e-12)
    assert close(comparison.lift_interval.high, ci.high - 1.0, rel=1e-8, abs_=1e-12)
    assert comparison.lift_interval.low <= comparison.lift <= comparison.lift_interval.high
    assert comparison.lift_interval.low > -1.0
    if c == n_c and t == n_t:
        assert comparison.p_value is None
    else:
        table = np.array([[t, n_t - t], [c, n_c - c]])
        chi2 = sps.chi2_contingency(table, correction=False)
        assert close(comparison.p_value, float(chi2.pvalue), rel=1e-7, abs_=1e-12)


def test_no_conversions_in_the_control_has_no_lift() -> None:
    comparison = s.compare_rates((0, 100), (5, 100))
    assert comparison is not None
    assert comparison.lift is None
    assert comparison.lift_interval is None
    assert comparison.difference == pytest.approx(0.05)
    assert s.compare_rates((0, 0), (5, 100)) is None
    assert s.compare_rates((0, 100), (0, 100)) is not None
    assert s.two_proportion_p_value((0, 100), (0, 100)) is None


# Means ------------------------------------------------------------------------------------------------


def test_welch_interval_of_a_known_case_matches_scipy() -> None:
    control = [12.0, 0.0, 30.5, 8.25, 0.0, 19.99, 45.0, 3.5]
    variant = [22.0, 14.5, 0.0, 60.0, 31.25, 9.99, 18.0, 27.5, 40.0, 0.0, 12.0]
    comparison = s.compare_means(s.Sample.of(control), s.Sample.of(variant))
    reference = sps.ttest_ind(variant, control, equal_var=False)
    ci = reference.confidence_interval(confidence_level=0.95)
    assert comparison is not None
    assert comparison.difference_interval is not None
    assert close(comparison.difference, float(np.mean(variant) - np.mean(control)), rel=1e-12)
    assert close(comparison.difference_interval.low, float(ci.low), rel=1e-9)
    assert close(comparison.difference_interval.high, float(ci.high), rel=1e-9)
    assert close(comparison.p_value, float(reference.pvalue), rel=1e-8)


@settings(max_examples=100)
@given(
    st.lists(st.floats(min_value=0, max_value=1_000, allow_subnormal=False), min_size=2, max_size=60),
    st.lists(st.floats(min_value=0, max_value=1_000, allow_subnormal=False), min_size=2, max_size=60),
)
def test_mean_comparison_matches_scipy(control: list[float], variant: list[float]) -> None:
    a, b = s.Sample.of(control), s.Sample.of(variant)
    assert a.variance is not None
    assert b.variance is not None
    assert close(a.variance, float(np.var(control, ddof=1)), rel=1e-6, abs_=1e-6)
    comparison = s.compare_means(a, b)
    assert comparison is not None
    if np.var(control) < 1e-6 or np.var(variant) < 1e-6:
        return  # (nearly) constant samples: scipy's t is ill-conditioned, nothing to compare
    reference = sps.ttest_ind(variant, control, equal_var=False)
    ci = reference.confidence_interval(confidence_level=0.95)
    assert comparison.difference_interval is not None
    scale = max(1.0, abs(float(ci.low)), abs(float(ci.high)))
    assert comparison.difference_interval.low == pytest.approx(float(ci.low), rel=1e-6, abs=1e-8 * scale)
    assert comparison.difference_interval.high == pytest.approx(float(ci.high), rel=1e-6, abs=1e-8 * scale)
    assert comparison.p_value == pytest.approx(float(reference.pvalue), rel=1e-5, abs=1e-9)


def test_relative_lift_of_means_is_the_delta_method() -> None:
    rng = np.random.default_rng(7)
    control = rng.exponential(20.0, 4_000)
    variant = rng.exponential(22.0, 5_000)
    comparison = s.compare_means(s.Sample.of(control.tolist()), s.Sample.of(variant.tolist()))
    assert comparison is not None
    assert comparison.lift_interval is not None
    m_c, m_t = control.mean(), variant.mean()
    v_c, v_t = control.var(ddof=1) / len(control), variant.var(ddof=1) / len(variant)
    ratio = m_t / m_c
    se = math.sqrt(v_t / m_c**2 + ratio**2 * v_c / m_c**2)
    z = float(sps.norm.ppf(0.975))
    assert close(comparison.lift, ratio - 1, rel=1e-9)
    assert close(comparison.lift_interval.low, ratio - 1 - z * se, rel=1e-8)
    assert close(comparison.lift_interval.high, ratio - 1 + z * se, rel=1e-8)
    # The delta method's interval covers the true +10% here, as the bootstrap's does.
    assert comparison.lift_interval.low < 0.1 < comparison.lift_interval.high


def test_means_without_enough_people_have_no_interval() -> None:
    assert s.compare_means(s.Sample(0, 0, 0), s.Sample(3, 3, 5)) is None
    one = s.compare_means(s.Sample.of([4.0]), s.Sample.of([1.0, 3.0]))
    assert one is not None
    assert one.difference_interval is None
    assert one.lift == pytest.approx(-0.5)


# Chance to win ------------------------------------------------------------------------------------------


def test_chance_to_win_of_two_variants_is_the_normal_closed_form() -> None:
    p_c, p_t = 120 / 1000, 150 / 1000
    se_c, se_t = math.sqrt(p_c * (1 - p_c) / 1000), math.sqrt(p_t * (1 - p_t) / 1000)
    chances = s.chance_to_win([(p_c, se_c), (p_t, se_t)])
    expected = float(sps.norm.cdf((p_t - p_c) / math.hypot(se_c, se_t)))
    assert close(chances[1], expected, rel=1e-12)
    assert close(chances[0], 1 - expected, rel=1e-12)


def _reference_chance(index: int, estimates: list[tuple[float, float]]) -> float:
    mean, se = estimates[index]

    def integrand(x: float) -> float:
        value = float(sps.norm.pdf(x, mean, se))
        for other, (m, e) in enumerate(estimates):
            if other != index:
                value *= float(sps.norm.cdf(x, m, e))
        return value

    return float(integrate.quad(integrand, mean - 12 * se, mean + 12 * se, epsabs=1e-13, limit=200)[0])


@settings(max_examples=12, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(min_value=0.01, max_value=0.5), st.floats(min_value=0.001, max_value=0.05)),
        min_size=3,
        max_size=4,
    )
)
def test_chance_to_win_of_many_variants_matches_scipys_integral(estimates: list[tuple[float, float]]) -> None:
    chances = s.chance_to_win(estimates)
    assert sum(chances) == pytest.approx(1.0, abs=1e-12)
    for index, chance in enumerate(chances):
        assert chance == pytest.approx(_reference_chance(index, estimates), abs=1e-6)


def test_chance_to_win_with_three_variants_agrees_with_monte_carlo() -> None:
    estimates = [(0.12, 0.01), (0.14, 0.012), (0.13, 0.011)]
    draws = np.random.default_rng(1).normal(
        [m for m, _ in estimates], [e for _, e in estimates], (400_000, 3)
    )
    wins = np.bincount(draws.argmax(axis=1), minlength=3) / len(draws)
    for chance, share in zip(s.chance_to_win(estimates), wins, strict=True):
        assert chance == pytest.approx(float(share), abs=0.003)


@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 0.1)), min_size=1, max_size=2))
def test_chances_are_probabilities_that_sum_to_one(estimates: list[tuple[float, float]]) -> None:
    chances = s.chance_to_win(estimates)
    assert all(0.0 <= chance <= 1.0 for chance in chances)
    assert sum(chances) == pytest.approx(1.0)


# Sample-ratio mismatch ----------------------------------------------------------------------------------


def test_a_fair_split_is_not_a_mismatch_and_a_skewed_one_is() -> None:
    fair = s.sample_ratio_mismatch([5_020, 4_980], [50, 50])
    assert fair is not None
    assert not fair.mismatch
    assert close(fair.p_value, float(sps.chisquare([5_020, 4_980]).pvalue), rel=1e-10)
    skewed = s.sample_ratio_mismatch([5_300, 4_700], [50, 50])
    assert skewed is not None
    assert skewed.mismatch
    assert close(skewed.p_value, float(sps.chisquare([5_300, 4_700]).pvalue), rel=1e-8)


@given(st.lists(st.tuples(st.integers(0, 100_000), st.integers(1, 100)), min_size=2, max_size=6))
def test_sample_ratio_matches_scipys_chisquare(rows: list[tuple[int, int]]) -> None:
    observed, weights = [o for o, _ in rows], [w for _, w in rows]
    result = s.sample_ratio_mismatch(observed, weights)
    if sum(observed) == 0:
        assert result is None
        return
    expected = [sum(observed) * w / sum(weights) for w in weights]
    reference = sps.chisquare(observed, expected)
    assert result is not None
    assert close(result.statistic, float(reference.statistic), rel=1e-9, abs_=1e-9)
    assert close(result.p_value, float(reference.pvalue), rel=1e-7, abs_=1e-14)
    assert result.mismatch == (float(reference.pvalue) < 0.001)


def test_variants_below_the_minimum_sample_are_named() -> None:
    assert s.below_minimum({"control": 120, "gallery": 80}, 100) == ["gallery"]
    assert s.below_minimum({"control": 100}, 100) == []
