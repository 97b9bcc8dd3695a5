"""Storefront pages over HTTP, on both databases: filters, search, pages of results, product pages."""

from __future__ import annotations

import re

import httpx

from shelf.app import Container
from tests.integration.web.helpers import BROWSER, add_product, assert_self_contained


def names(html: str) -> list[str]:
    return re.findall(r'class="card__title product-card__name"><a href="[^"]+">([^<]+)</a>', html)


async def test_filters_sort_and_search_show_active_products_only(
    client: httpx.AsyncClient, container: Container
) -> None:
    await add_product(
        container, name="Alpine Boot", category="footwear", price={"amount": "120.00", "currency": "EUR"}
    )
    await add_product(
        container, name="Beach Sandal", category="footwear", price={"amount": "35.50", "currency": "EUR"}
    )
    await add_product(
        container, name="Cloud Slipper", category="footwear", price={"amount": "19.99", "currency": "EUR"}
    )
    await add_product(container, name="Draft Clog", category="footwear", status="draft")
    await add_product(
        container, name="Alpine Jacket", category="apparel", price={"amount": "220.00", "currency": "EUR"}
    )

    footwear = await client.get(
        "/products", params={"category": "footwear", "sort": "price"}, headers=BROWSER
    )
    assert footwear.status_code == 200
    assert names(footwear.text) == ["Cloud Slipper", "Beach Sandal", "Alpine Boot"]
    assert "<h1>Footwear</h1>" in footwear.text
    assert '<option value="footwear" selected>' in footwear.text
    assert_self_contained(footwear.text)

    ranged = await client.get(
        "/products",
        params={"price_min": "20", "price_max": "150", "sort": "-price", "q": ""},
        headers=BROWSER,
    )
    assert names(ranged.text) == ["Alpine Boot", "Beach Sandal"]

    searched = await client.get("/products", params={"q": "alpine"}, headers=BROWSER)
    assert sorted(names(searched.text)) == ["Alpine Boot", "Alpine Jacket"]
    assert "Results for “alpine”" in searched.text
    assert 'value="alpine"' in searched.text  # the header's search box keeps the words

    drafts = await client.get("/products", params={"q": "clog"}, headers=BROWSER)
    assert names(drafts.text) == []
    assert "No products match these filters" in drafts.text


async def test_bad_filters_are_explained_next_to_their_fields(
    client: httpx.AsyncClient, container: Container
) -> None:
    bad = await client.get("/products", params={"price_min": "cheap", "sort": "sideways"}, headers=BROWSER)
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "text/html; charset=utf-8"
    assert "Enter the lowest price as a number, such as 10 or 12.50." in bad.text
    assert re.search(
        r'id="field-price_min"[^>]*aria-describedby="field-price_min-error"[^>]*aria-invalid="true"', bad.text
    )
    assert "Choose an order from the list." in bad.text
    assert 'value="cheap"' in bad.text  # what was typed stays in the field

    crossed = await client.get("/products", params={"price_min": "50", "price_max": "10"}, headers=BROWSER)
    assert crossed.status_code == 422
    assert "The highest price must not be below the lowest price." in crossed.text


async def test_cursor_pages_walk_every_product_once(client: httpx.AsyncClient, container: Container) -> None:
    made = {f"Walker {n:02d}" for n in range(30)}
    for name in sorted(made):
        await add_product(container, name=name, category="walkers")
    first = await client.get("/products", params={"category": "walkers", "sort": "name"}, headers=BROWSER)
    assert len(names(first.text)) == 24
    assert "First page" not in first.text
    next_link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert next_link
    second = await client.get(next_link.group(1).replace("&amp;", "&"), headers=BROWSER)
    assert second.status_code == 200
    assert len(names(second.text)) == 6
    assert 'rel="next"' not in second.text
    assert 'href="/products?category=walkers&amp;sort=name" rel="first"' in second.text
    assert set(names(first.text)) | set(names(second.text)) == made

    forged = await client.get(
        "/products", params={"category": "walkers", "cursor": "not-a-cursor"}, headers=BROWSER
    )
    assert forged.status_code == 422
    assert forged.headers["content-type"] == "text/html; charset=utf-8"


async def test_a_product_page_at_its_readable_url(client: httpx.AsyncClient, container: Container) -> None:
    product = await add_product(
        container,
        name="Glacier Merino Scarf",
        description="Warm.\n<b>Not bold</b>",
        price={"amount": "1249.5", "currency": "EUR"},
        tags=["wool", "gift"],
        stock=3,
        attributes={"color": "navy", "organic": True},
    )
    url = f"/products/{product['id']}/glacier-merino-scarf"
    page = await client.get(url, headers=BROWSER)
    assert page.status_code == 200
    html = page.text
    assert '<h1 id="product-title">Glacier Merino Scarf</h1>' in html
    assert "€1,249.50" in html
    assert "Only 3 left" in html
    assert 'href="/products?tag=wool"' in html
    assert "&lt;b&gt;Not bold&lt;/b&gt;" in html  # the description is text, never markup
    assert "<dt>Organic</dt><dd>Yes</dd>" in html
    assert f'<link rel="canonical" href="{url}">' in html
    assert '<form class="feedback-form" method="post" action="/feedback"' in html  # the feedback form
    assert f'<input type="hidden" name="product_id" value="{product["id"]}">' in html
    assert 'max="3"' in html  # the quantity field allows what is in stock
    assert_self_contained(html)

    bare = await client.get(f"/products/{product['id']}", headers=BROWSER)
    assert bare.status_code == 200
    assert f'<link rel="canonical" href="{url}">' in bare.text
    renamed = await client.get(f"/products/{product['id']}/old-name", headers=BROWSER)
    assert renamed.status_code == 301
    assert renamed.headers["location"] == url


async def test_shoppers_never_see_drafts_or_malformed_ids(
    client: httpx.AsyncClient, container: Container
) -> None:
    draft = await add_product(container, name="Secret Prototype", status="draft")
    for path in (f"/products/{draft['id']}", f"/products/{draft['id']}/secret-prototype", "/products/12345"):
        page = await client.get(path, headers=BROWSER)
        assert page.status_code == 404, path
        assert "Secret Prototype" not in page.text
        assert "We couldn&#39;t find that page" in page.text
    assert (await client.get(f"/feedback?product={draft['id']}", headers=BROWSER)).status_code == 404


async def test_the_feedback_entry_point(client: httpx.AsyncClient, container: Container) -> None:
    product = await add_product(container, name="Feedback Lamp")
    page = await client.get(f"/feedback?product={product['id']}", headers=BROWSER)
    assert page.status_code == 200
    assert "Send feedback on Feedback Lamp" in page.text
    assert f'href="/products/{product["id"]}/feedback-lamp"' in page.text
    general = await client.get("/feedback", headers=BROWSER)
    assert general.status_code == 200
    assert "<h1>Send feedback</h1>" in general.text
