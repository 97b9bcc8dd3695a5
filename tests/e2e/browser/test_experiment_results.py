"""An experiment's results page in real Chromium, as a viewer reads it: the rate, the lift's 95%
interval, the chance to win and the sample-ratio p-value shown equal reference values computed
here with scipy (and the normal approximation for the chance to win) from the seeded events."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page
from scipy import stats as sps
from scipy.stats.contingency import relative_risk

from tests.e2e.browser.conftest import BROWSER_TESTS, Shop
from tests.e2e.browser.console import log_in
from tests.process import shelf

pytestmark = BROWSER_TESTS
FLAG = "storefront.product-page-layout"
# (people exposed, of them converted): hand-picked so every figure is distinct.
CONTROL = (210, 30)
GALLERY = (190, 41)
BOTH = 3  # people exposed to both variants: excluded


def _key(shop: Shop, role: str) -> str:
    done = shelf("apikeys", "create", "--name", f"exp-{role}", "--role", role, database_url=shop.database_url)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def _pct(value: float) -> str:
    return f"{value * 100:.2f}%"


def _events(now: datetime) -> list[dict[str, object]]:
    at = (now + timedelta(seconds=2)).isoformat()
    later = (now + timedelta(minutes=5)).isoformat()
    rows: list[dict[str, object]] = []

    def add(event: str, who: str, when: str, props: dict[str, object]) -> None:
        row = {"event": event, "distinct_id": who, "timestamp": when, "properties": props}
        rows.append(row | {"uuid": str(uuid.uuid4())})

    for variant, (people, converted) in (("control", CONTROL), ("gallery", GALLERY)):
        for i in range(people):
            who = f"exp-{variant}-{i}"
            add("$feature_flag_called", who, at, {"$feature_flag": FLAG, "$feature_flag_response": variant})
            if i < converted:
                add("add_to_cart", who, later, {})
    for i in range(BOTH):
        for variant in ("control", "gallery"):
            exposed = {"$feature_flag": FLAG, "$feature_flag_response": variant}
            add("$feature_flag_called", f"exp-both-{i}", at, exposed)
    return rows


def _seeded_experiment(shop: Shop) -> str:
    """A started experiment with the events above, through the capture API; its id once counted."""
    editor = {"Authorization": f"Bearer {_key(shop, 'editor')}"}
    client_key = _key(shop, "client")
    body = {
        "key": f"browser-results-{uuid.uuid4().hex[:8]}",
        "name": "Browser results",
        "flag_key": FLAG,
        "control_variant": "control",
        "primary_metric": {"kind": "conversion", "event": "add_to_cart", "window_seconds": 86_400},
        "minimum_sample": 100,
    }
    created = httpx.post(shop.url("/api/v1/experiments"), json=body, headers=editor, timeout=10)
    assert created.status_code == 201, created.text
    experiment_id = created.json()["id"]
    started = httpx.post(shop.url(f"/api/v1/experiments/{experiment_id}/start"), headers=editor, timeout=10)
    assert started.status_code == 200, started.text
    start = datetime.fromisoformat(started.json()["started_at"]).astimezone(UTC)
    batch = _events(start)
    for offset in range(0, len(batch), 200):
        part = {"api_key": client_key, "batch": batch[offset : offset + 200]}
        sent = httpx.post(shop.url("/batch/"), json=part, timeout=10)
        assert sent.status_code == 200, sent.text
    # The events are buffered and flushed within a fraction of a second; wait until all are counted.
    time.sleep(3)  # the exposures are timestamped just after the start; results count up to "now"
    url = shop.url(f"/api/v1/experiments/{experiment_id}/results")
    for _ in range(50):
        results = httpx.get(url, headers=editor, timeout=10).json()
        if results["exposed"] == CONTROL[0] + GALLERY[0] and results["excluded_multiple_variants"] == BOTH:
            break
        time.sleep(0.2)
    assert results["exposed"] == CONTROL[0] + GALLERY[0], results
    return str(experiment_id)


async def test_a_viewer_sees_results_that_match_the_references(
    page: Page, shop: Shop, console_users: dict[str, str]
) -> None:
    experiment_id = _seeded_experiment(shop)
    # The references, from the counts alone.
    (nc, xc), (ng, xg) = CONTROL, GALLERY
    risk = relative_risk(xg, ng, xc, nc)
    interval = risk.confidence_interval(0.95)
    pc, pg = xc / nc, xg / ng
    spread = math.sqrt(pc * (1 - pc) / nc + pg * (1 - pg) / ng)
    chance = float(sps.norm.cdf((pg - pc) / spread))
    srm = float(sps.chisquare([nc, ng]).pvalue)

    await log_in(page, shop, console_users["viewer"], f"/admin/experiments/{experiment_id}")
    gallery = page.locator('tr[data-variant="gallery"]')
    control = page.locator('tr[data-variant="control"]')
    assert (await control.locator('[data-field="rate"]').inner_text()).strip() == _pct(pc)
    assert (await gallery.locator('[data-field="rate"]').inner_text()).strip() == _pct(pg)
    assert (await gallery.locator('[data-field="lift"]').inner_text()).strip() == _pct(risk.relative_risk - 1)
    shown_interval = (await gallery.locator('[data-field="lift_interval"]').inner_text()).strip()
    assert shown_interval == f"{_pct(interval.low - 1)} to {_pct(interval.high - 1)}"
    assert (await gallery.locator('[data-field="chance_to_win"]').inner_text()).strip() == _pct(chance)
    assert (await control.locator('[data-field="chance_to_win"]').inner_text()).strip() == _pct(1 - chance)
    shown_srm = (await page.locator('[data-field="srm_p_value"]').inner_text()).strip()
    assert shown_srm.startswith(f"{srm:.4g} ok"), shown_srm
    assert (await page.locator('[data-field="excluded"]').inner_text()).strip() == str(BOTH)
    assert await page.locator('[data-testid="rate-chart"] rect').count() == 2
    assert await page.get_by_role("button", name="Stop experiment").count() == 0  # viewers read only
