"""The storefront ships a change behind a flag: storefront.product-page-layout (flags/demo.py).

A shopper in "gallery" sees a large product visual and the buy box before the description; one in
"control" sees the classic page. Each variant is forced with a targeting rule on the shopper's id.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shelf.app import Container
from shelf.flags.demo import DEMO_FLAGS, PRODUCT_PAGE_LAYOUT, ensure_demo_flags
from shelf.flags.service import EXPOSURE_EVENT, etag_for
from tests.integration.web.helpers import BROWSER, SETUP, add_product


def _forced(variant: str) -> dict[str, Any]:
    everyone = {"attribute": "targetingKey", "op": "regex", "value": "."}
    return {"rules": [{"conditions": [everyone], "variant": variant}]}


async def _patch(container: Container, patch: dict[str, Any]) -> None:
    current = await container.flags.get_flag(SETUP, PRODUCT_PAGE_LAYOUT)
    await container.flags.update_flag(SETUP, PRODUCT_PAGE_LAYOUT, patch, [etag_for(current.version)])


async def _page(client: httpx.AsyncClient, container: Container) -> str:
    product = await add_product(container, name="Fjord Lamp", description="A calm light.")
    page = await client.get(f"/products/{product['id']}/fjord-lamp", headers=BROWSER)
    assert page.status_code == 200
    return page.text


async def test_seeding_creates_the_layout_flag_once_and_keeps_an_edited_one(container: Container) -> None:
    assert await ensure_demo_flags(container.flags, SETUP) == [PRODUCT_PAGE_LAYOUT]
    flag = await container.flags.get_flag(SETUP, PRODUCT_PAGE_LAYOUT)
    assert flag.type == "multivariate"
    assert [(v.key, v.weight) for v in flag.variants] == [("control", 50), ("gallery", 50)]
    await _patch(container, {"enabled": False})
    assert await ensure_demo_flags(container.flags, SETUP) == []
    assert (await container.flags.get_flag(SETUP, PRODUCT_PAGE_LAYOUT)).enabled is False
    assert DEMO_FLAGS[0]["key"] == PRODUCT_PAGE_LAYOUT


async def test_the_gallery_variant_shows_the_visual_and_the_buy_box_before_the_description(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[tuple[str, str, dict[str, Any]]] = []

    class Recorder:
        async def emit(self, event: str, distinct_id: str, properties: Any) -> None:
            sent.append((event, distinct_id, dict(properties)))

    monkeypatch.setattr(container.flags, "_events", Recorder())  # this test only
    await ensure_demo_flags(container.flags, SETUP)
    await _patch(container, _forced("gallery"))
    html = await _page(client, container)
    assert 'class="product product--gallery"' in html
    assert 'class="product__visual"' in html
    assert html.index("Add to cart") < html.index('class="product__description"')
    assert [(e, p) for e, _, p in sent] == [
        (EXPOSURE_EVENT, {"$feature_flag": PRODUCT_PAGE_LAYOUT, "$feature_flag_response": "gallery"})
    ]


async def test_the_control_variant_is_the_classic_page(
    client: httpx.AsyncClient, container: Container
) -> None:
    await ensure_demo_flags(container.flags, SETUP)
    await _patch(container, _forced("control"))
    html = await _page(client, container)
    assert 'class="product"' in html
    assert "product--gallery" not in html
    assert "product__visual" not in html
    assert html.index('class="product__description"') < html.index("Add to cart")


async def test_without_the_flag_the_page_is_the_classic_one(
    client: httpx.AsyncClient, container: Container
) -> None:
    html = await _page(client, container)
    assert 'data-layout="control"' in html
    assert "product__visual" not in html


async def test_a_visitor_under_do_not_track_sees_the_variant_but_sends_no_exposure(
    client: httpx.AsyncClient, container: Container, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[str] = []

    class Recorder:
        async def emit(self, event: str, distinct_id: str, properties: Any) -> None:
            sent.append(event)

    monkeypatch.setattr(container.flags, "_events", Recorder())  # this test only
    await ensure_demo_flags(container.flags, SETUP)
    await _patch(container, _forced("gallery"))
    product = await add_product(container, name="Fjord Lamp", description="A calm light.")
    for header in ({"DNT": "1"}, {"Sec-GPC": "1"}):
        page = await client.get(f"/products/{product['id']}/fjord-lamp", headers={**BROWSER, **header})
        assert page.status_code == 200
        assert 'data-layout="gallery"' in page.text
    assert sent == []
