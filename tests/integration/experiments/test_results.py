"""Results of an experiment against a hand-computed fixture, on SQLite and PostgreSQL.

The experiment runs on the demo flag from 2026-03-02 00:00 to 2026-03-10 00:00 UTC; the primary
metric is ``add_to_cart`` within a day of the first exposure, the secondary the mean per person
of the ``price`` of those events. Each person's line below says what they count for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from scipy import stats as sps
from scipy.stats.contingency import relative_risk

from shelf.app import Container
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.experiments.helpers import API, create, exposure, run_between, send

START = datetime(2026, 3, 2, tzinfo=UTC)
STOP = datetime(2026, 3, 10, tzinfo=UTC)
CART = "add_to_cart"
pytestmark = pytest.mark.usefixtures("dogfood_flag")

EVENTS = [
    # control
    exposure("u1", "2026-03-02T10:00:00Z", "control"),
    (CART, "u1", "2026-03-02T12:00:00Z", {"price": 10}),  # converted, 10
    exposure("u2", "2026-03-02T11:00:00Z", "control"),
    (CART, "u2", "2026-03-03T11:00:01Z", {"price": 99}),  # a day and a second later: not converted, 0
    exposure("u3", "2026-03-03T09:00:00Z", "control"),
    exposure("u3", "2026-03-03T10:00:00Z", "control"),  # the same variant again: still one person
    (CART, "u3", "2026-03-04T09:00:00Z", {"price": 5.5}),  # exactly a day later: converted, 5.5
    # gallery
    exposure("u4", "2026-03-02T10:00:00Z", "gallery"),
    (CART, "u4", "2026-03-02T09:00:00Z", {"price": 50}),  # before the exposure: not converted, 0
    exposure("u5", "2026-03-02T13:00:00Z", "gallery"),
    (CART, "u5", "2026-03-02T14:00:00Z", {"price": 20}),  # converted once, 20 + 4
    (CART, "u5", "2026-03-02T15:00:00Z", {"price": 4}),
    exposure("u6", "2026-03-03T08:00:00Z", "gallery"),
    (CART, "u6", "2026-03-03T20:00:00Z", {"price": 7}),  # converted, 7
    (CART, "u6", "2026-03-03T21:00:00Z", {"price": "free"}),  # not a number: adds nothing
    # not counted
    exposure("u7", "2026-03-02T10:00:00Z", "control"),  # both variants: excluded
    exposure("u7", "2026-03-02T11:00:00Z", "gallery"),
    (CART, "u7", "2026-03-02T12:00:00Z", {"price": 1}),
    exposure("u8", "2026-03-02T10:00:00Z", "gallery", flag="another.flag"),  # another flag
    (CART, "u8", "2026-03-02T10:30:00Z", {}),
    exposure("u9", "2026-03-01T23:59:59Z", "control"),  # before the start
    (CART, "u9", "2026-03-02T01:00:00Z", {}),
    exposure("u10", "2026-03-10T00:00:01Z", "gallery"),  # after the stop
    (CART, "u11", "2026-03-02T10:00:00Z", {}),  # never exposed
    exposure("u12", "2026-03-05T10:00:00Z", "legacy"),  # a variant the flag does not declare
]
CONTROL_PRICES = [10.0, 0.0, 5.5]
GALLERY_PRICES = [0.0, 24.0, 7.0]


@pytest.fixture
async def results(client: httpx.AsyncClient, container: Container, keys: Keys) -> dict[str, Any]:
    experiment = await create(
        client,
        keys,
        secondary_metrics=[{"kind": "mean", "event": CART, "property": "price", "window_seconds": 86_400}],
    )
    await run_between(container, experiment["id"], START, STOP)
    await send(client, container, keys, EVENTS)
    response = await client.get(f"{API}/{experiment['id']}/results", headers=keys.auth("viewer"))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def by_variant(metric: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["variant"]: row for row in metric["variants"]}


async def test_exposures_conversions_and_exclusions(results: dict[str, Any]) -> None:
    rows = by_variant(results["primary"])
    assert [row["variant"] for row in results["primary"]["variants"]] == ["control", "gallery"]
    assert (rows["control"]["exposures"], rows["control"]["conversions"]) == (3, 2)
    assert (rows["gallery"]["exposures"], rows["gallery"]["conversions"]) == (3, 2)
    assert rows["control"]["is_control"] is True
    assert rows["control"]["lift"] is None
    assert results["exposed"] == 6
    assert results["excluded_multiple_variants"] == 1
    assert results["unknown_variants"] == {"legacy": 1}
    assert results["start"].startswith("2026-03-02T00:00:00")
    assert results["end"].startswith("2026-03-10T00:00:00")


async def test_conversion_statistics_match_scipy(results: dict[str, Any]) -> None:
    gallery = by_variant(results["primary"])["gallery"]
    reference = relative_risk(2, 3, 2, 3)
    ci = reference.confidence_interval(0.95)
    assert gallery["rate"] == pytest.approx(2 / 3)
    assert gallery["lift"] == pytest.approx(reference.relative_risk - 1, abs=1e-12)
    assert gallery["lift_interval"]["low"] == pytest.approx(ci.low - 1, rel=1e-9)
    assert gallery["lift_interval"]["high"] == pytest.approx(ci.high - 1, rel=1e-9)
    assert gallery["chance_to_win"] == pytest.approx(0.5)
    assert results["sample_ratio"]["p_value"] == pytest.approx(float(sps.chisquare([3, 3]).pvalue))
    assert results["sample_ratio"]["mismatch"] is False
    assert results["sample_ratio"]["weights"] == {"control": 50.0, "gallery": 50.0}


async def test_mean_metric_is_the_per_person_sum_in_the_window(results: dict[str, Any]) -> None:
    (secondary,) = results["secondary"]
    rows = by_variant(secondary)
    assert rows["control"]["mean"] == pytest.approx(sum(CONTROL_PRICES) / 3)
    assert rows["gallery"]["mean"] == pytest.approx(sum(GALLERY_PRICES) / 3)
    assert rows["gallery"]["conversions"] == 2  # u5 and u6 had the event in their window
    welch = sps.ttest_ind(GALLERY_PRICES, CONTROL_PRICES, equal_var=False)
    ci = welch.confidence_interval(0.95)
    assert rows["gallery"]["difference_interval"]["low"] == pytest.approx(float(ci.low), rel=1e-8)
    assert rows["gallery"]["difference_interval"]["high"] == pytest.approx(float(ci.high), rel=1e-8)
    assert rows["gallery"]["p_value"] == pytest.approx(float(welch.pvalue), rel=1e-7)


async def test_cumulative_series_by_day_of_first_exposure(results: dict[str, Any]) -> None:
    series = [
        (point["day"][:10], point["variant"], point["exposures"], point["conversions"])
        for point in results["primary"]["series"]
    ]
    assert series == [
        ("2026-03-02", "control", 2, 1),
        ("2026-03-03", "control", 3, 2),
        ("2026-03-02", "gallery", 2, 1),
        ("2026-03-03", "gallery", 3, 2),
    ]


async def test_warnings_name_small_samples_and_unknown_variants(results: dict[str, Any]) -> None:
    warnings = results["warnings"]
    assert any("'control' has 3 exposed people" in warning for warning in warnings)
    assert any("'gallery' has 3 exposed people" in warning for warning in warnings)
    assert any("'legacy' (1)" in warning for warning in warnings)
    assert any("saw more than one variant" in warning for warning in warnings)  # 1 of 7 > 5%


async def test_a_skewed_split_is_flagged_as_a_sample_ratio_mismatch(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    experiment = await create(client, keys, minimum_sample=10)
    await run_between(container, experiment["id"], START, None)
    rows = [exposure(f"c{i}", "2026-03-02T10:00:00Z", "control") for i in range(70)]
    rows += [exposure(f"g{i}", "2026-03-02T10:00:00Z", "gallery") for i in range(30)]
    await send(client, container, keys, rows)
    response = await client.get(f"{API}/{experiment['id']}/results", headers=keys.auth("viewer"))
    body = response.json()
    assert body["status"] == "running"
    assert body["sample_ratio"]["p_value"] == pytest.approx(float(sps.chisquare([70, 30]).pvalue), rel=1e-9)
    assert body["sample_ratio"]["mismatch"] is True
    assert any("sample ratio mismatch" in warning for warning in body["warnings"])
    gallery = by_variant(body["primary"])["gallery"]
    assert gallery["rate"] == 0.0
    assert gallery["lift"] is None  # nobody converted in the control


async def test_a_draft_has_no_results(client: httpx.AsyncClient, keys: Keys) -> None:
    experiment = await create(client, keys)
    response = await client.get(f"{API}/{experiment['id']}/results", headers=keys.auth("viewer"))
    assert_problem(response, 409)
