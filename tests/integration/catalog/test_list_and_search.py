"""GET /api/v1/products: filters, sorting, keyset cursors, full-text search, visibility."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem, create


async def all_pages(client: httpx.AsyncClient, params: dict[str, Any], headers=None) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        response = await client.get(
            "/api/v1/products", params=params | ({"cursor": cursor} if cursor else {}), headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.fixture
async def shelf(client: httpx.AsyncClient, keys: Keys) -> list[dict[str, Any]]:
    catalog = [
        ("Merino Wool Scarf", "apparel", "49.90", ["wool", "gift"], "active", "Soft and warm."),
        ("Walnut Desk Lamp", "furniture", "129.00", ["lighting"], "active", "Warm light for long nights."),
        ("Canvas Backpack", "outdoor", "89.50", ["travel"], "active", "Carries a merino sweater or two."),
        ("Alpine Wool Beanie", "apparel", "24.00", ["wool"], "active", "Knitted."),
        ("Trail Runner", "footwear", "139.99", ["running"], "active", "Grippy sole."),
        ("Prototype Jacket", "apparel", "300.00", ["wool"], "draft", "Not ready."),
        ("Old Parka", "apparel", "10.00", [], "archived", "Discontinued."),
    ]
    created = []
    for name, category, amount, tags, status, description in catalog:
        created.append(
            await create(
                client,
                keys.auth("editor"),
                name=name,
                category=category,
                price={"amount": amount, "currency": "EUR"},
                tags=tags,
                status=status,
                description=description,
            )
        )
    return created


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


async def test_default_order_is_newest_first_and_public_sees_active_only(
    client: httpx.AsyncClient, shelf: list[dict[str, Any]]
) -> None:
    body = (await client.get("/api/v1/products")).json()
    assert body["next_cursor"] is None
    active = [p["name"] for p in shelf if p["status"] == "active"]
    assert names(body["items"]) == list(reversed(active))


async def test_staff_see_every_status_and_can_filter_by_it(
    client: httpx.AsyncClient, keys: Keys, shelf: list[dict[str, Any]]
) -> None:
    everything = (await client.get("/api/v1/products", headers=keys.auth("viewer"))).json()
    assert len(everything["items"]) == len(shelf)
    drafts = await client.get("/api/v1/products", params={"status": "draft"}, headers=keys.auth("viewer"))
    assert names(drafts.json()["items"]) == ["Prototype Jacket"]
    public_drafts = await client.get("/api/v1/products", params={"status": "draft"})
    assert public_drafts.json()["items"] == []


async def test_filters_combine(client: httpx.AsyncClient, shelf: list[dict[str, Any]]) -> None:
    async def query(**params: Any) -> list[str]:
        response = await client.get("/api/v1/products", params=params)
        assert response.status_code == 200, response.text
        return sorted(names(response.json()["items"]))

    assert await query(category="apparel") == ["Alpine Wool Beanie", "Merino Wool Scarf"]
    assert await query(tag="wool") == ["Alpine Wool Beanie", "Merino Wool Scarf"]
    assert await query(price_min="89.50", price_max="130") == ["Canvas Backpack", "Walnut Desk Lamp"]
    assert await query(category="apparel", price_min="25") == ["Merino Wool Scarf"]
    assert await query(price_max="24.00") == ["Alpine Wool Beanie"]
    assert await query(category="garden") == []


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (
            "price",
            [
                "Alpine Wool Beanie",
                "Merino Wool Scarf",
                "Canvas Backpack",
                "Walnut Desk Lamp",
                "Trail Runner",
            ],
        ),
        (
            "-price",
            [
                "Trail Runner",
                "Walnut Desk Lamp",
                "Canvas Backpack",
                "Merino Wool Scarf",
                "Alpine Wool Beanie",
            ],
        ),
        (
            "name",
            [
                "Alpine Wool Beanie",
                "Canvas Backpack",
                "Merino Wool Scarf",
                "Trail Runner",
                "Walnut Desk Lamp",
            ],
        ),
        (
            "-name",
            [
                "Walnut Desk Lamp",
                "Trail Runner",
                "Merino Wool Scarf",
                "Canvas Backpack",
                "Alpine Wool Beanie",
            ],
        ),
        (
            "created_at",
            [
                "Merino Wool Scarf",
                "Walnut Desk Lamp",
                "Canvas Backpack",
                "Alpine Wool Beanie",
                "Trail Runner",
            ],
        ),
    ],
)
async def test_sorting_holds_across_pages(
    client: httpx.AsyncClient, shelf: list[dict[str, Any]], sort: str, expected: list[str]
) -> None:
    pages = await all_pages(client, {"sort": sort, "limit": 2})
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [name for page in pages for name in names(page)] == expected


async def test_cursor_pages_stay_stable_while_rows_are_inserted(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for n in range(9):
        await create(
            client, keys.auth("editor"), name=f"Mug {n}", price={"amount": f"{10 + n}", "currency": "EUR"}
        )
    for sort in ("-created_at", "price"):
        first = (await client.get("/api/v1/products", params={"sort": sort, "limit": 3})).json()
        seen = names(first["items"])
        cursor = first["next_cursor"]
        inserted = 0
        while cursor:
            # New rows sort before the cursor: newest (created now) or cheapest.
            await create(
                client,
                keys.auth("editor"),
                name=f"Late {sort} {inserted}",
                price={"amount": "1", "currency": "EUR"},
            )
            inserted += 1
            page = (
                await client.get("/api/v1/products", params={"sort": sort, "limit": 3, "cursor": cursor})
            ).json()
            seen += names(page["items"])
            cursor = page["next_cursor"]
        mugs = [name for name in seen if name.startswith("Mug")]
        assert len(mugs) == len(set(mugs)) == 9, seen
        assert not [name for name in seen if name.startswith(f"Late {sort}")]


async def test_paging_through_a_larger_catalog_visits_every_product_once(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for n in range(45):
        await create(
            client,
            keys.auth("editor"),
            name=f"Item {n:02d}",
            price={"amount": f"{n % 7}.50", "currency": "EUR"},
        )
    for sort in ("-price", "name", "-created_at"):
        pages = await all_pages(client, {"sort": sort, "limit": 10})
        ids = [item["id"] for page in pages for item in page]
        assert len(ids) == len(set(ids)) == 45


async def test_a_cursor_only_fits_its_own_query(
    client: httpx.AsyncClient, shelf: list[dict[str, Any]]
) -> None:
    cursor = (await client.get("/api/v1/products", params={"limit": 1, "sort": "price"})).json()[
        "next_cursor"
    ]
    assert cursor
    other = await client.get("/api/v1/products", params={"limit": 1, "sort": "name", "cursor": cursor})
    assert assert_problem(other, 422)["errors"][0]["field"] == "cursor"
    filtered = await client.get(
        "/api/v1/products", params={"limit": 1, "sort": "price", "category": "apparel", "cursor": cursor}
    )
    assert_problem(filtered, 422)
    for garbage in ("abc", "!!!", "eyJmb28iOiAxfQ", "W10"):
        assert_problem(await client.get("/api/v1/products", params={"cursor": garbage}), 422)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "ten"},
        {"sort": "stock"},
        {"status": "deleted"},
        {"price_min": "-1"},
        {"price_max": "NaN"},
        {"price_min": "1.00001"},
        {"category": "Not A Slug"},
        {"offset": 20},
        {"q": "x" * 201},
    ],
    ids=lambda p: next(iter(p)),
)
async def test_bad_query_parameters_are_422(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    body = assert_problem(await client.get("/api/v1/products", params=params), 422)
    assert body["errors"]


async def test_limit_defaults_to_20(client: httpx.AsyncClient, keys: Keys) -> None:
    for n in range(21):
        await create(client, keys.auth("editor"), name=f"Cup {n}")
    body = (await client.get("/api/v1/products")).json()
    assert len(body["items"]) == 20
    assert body["next_cursor"]


async def test_search_ranks_name_matches_first(
    client: httpx.AsyncClient, shelf: list[dict[str, Any]]
) -> None:
    found = names((await client.get("/api/v1/products", params={"q": "merino"})).json()["items"])
    assert found == ["Merino Wool Scarf", "Canvas Backpack"]  # name match above description match


async def test_search_matches_all_words_and_prefixes(
    client: httpx.AsyncClient, shelf: list[dict[str, Any]]
) -> None:
    async def search(q: str, **params: Any) -> list[str]:
        response = await client.get("/api/v1/products", params={"q": q} | params)
        assert response.status_code == 200, response.text
        return sorted(names(response.json()["items"]))

    assert await search("wool") == ["Alpine Wool Beanie", "Merino Wool Scarf"]
    assert await search("wool bean") == ["Alpine Wool Beanie"]
    assert await search("WALNUT lamp") == ["Walnut Desk Lamp"]
    assert await search("lamps") == ["Walnut Desk Lamp"]  # stemmed
    assert await search("wool", category="apparel", price_min="30") == ["Merino Wool Scarf"]
    assert await search("jacket") == []  # a draft: not public
    assert await search("zzzz") == []
    assert await search("'; DROP TABLE products; --") == []
    assert await search('"unbalanced (quote* OR') == []
    assert await search("!!!") == []


async def test_search_results_page_with_cursors(client: httpx.AsyncClient, keys: Keys) -> None:
    for n in range(7):
        await create(client, keys.auth("editor"), name=f"Teapot model {n}", description="teapot " * n)
    pages = await all_pages(client, {"q": "teapot", "limit": 3})
    ids = [item["id"] for page in pages for item in page]
    assert len(ids) == len(set(ids)) == 7
    by_price = await all_pages(client, {"q": "teapot", "limit": 3, "sort": "-created_at"})
    assert [i["name"] for p in by_price for i in p] == [f"Teapot model {n}" for n in reversed(range(7))]


async def test_staff_search_finds_drafts(
    client: httpx.AsyncClient, keys: Keys, shelf: list[dict[str, Any]]
) -> None:
    response = await client.get("/api/v1/products", params={"q": "jacket"}, headers=keys.auth("viewer"))
    assert names(response.json()["items"]) == ["Prototype Jacket"]


async def test_relevance_pages_cross_from_name_matches_to_other_matches(
    client: httpx.AsyncClient, keys: Keys
) -> None:
    for n in range(3):
        await create(client, keys.auth("editor"), name=f"Kettle {n}", description="Boils water.")
    for n in range(4):
        await create(client, keys.auth("editor"), name=f"Stove {n}", description="Fits any kettle.")
    first = (await client.get("/api/v1/products", params={"q": "kettle", "limit": 2})).json()
    # A new name match arrives after the first page: it sorts before the cursor, so it is not
    # shown later and nothing already shown repeats.
    await create(client, keys.auth("editor"), name="Kettle late", description="Boils water.")
    seen = names(first["items"])
    cursor = first["next_cursor"]
    while cursor:
        page = (
            await client.get("/api/v1/products", params={"q": "kettle", "limit": 2, "cursor": cursor})
        ).json()
        seen += names(page["items"])
        cursor = page["next_cursor"]
    assert seen == ["Kettle 2", "Kettle 1", "Kettle 0", "Stove 3", "Stove 2", "Stove 1", "Stove 0"]


@pytest.mark.parametrize(
    "forced",
    [(0, 0.0), (10_000, 1.0)],  # (COMMON_MATCHES, COMMON_SHARE)
    ids=["walk-the-index", "start-from-matches"],
)
async def test_both_search_plans_give_the_same_answers(
    client: httpx.AsyncClient,
    keys: Keys,
    shelf: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    forced: tuple[int, float],
) -> None:
    # Search picks a plan by how many products match (catalog/search.py): SQLite by a capped count,
    # PostgreSQL by its planner's estimate and the share of the table it makes. Force each in turn.
    monkeypatch.setattr("shelf.catalog.search.COMMON_MATCHES", forced[0])
    monkeypatch.setattr("shelf.catalog.search.COMMON_SHARE", forced[1])
    assert names((await client.get("/api/v1/products", params={"q": "merino"})).json()["items"]) == [
        "Merino Wool Scarf",
        "Canvas Backpack",
    ]
    wool = await client.get("/api/v1/products", params={"q": "wool", "sort": "price"})
    assert names(wool.json()["items"]) == ["Alpine Wool Beanie", "Merino Wool Scarf"]
    paged = await all_pages(client, {"q": "wool", "limit": 1})
    assert [name for page in paged for name in names(page)] == ["Alpine Wool Beanie", "Merino Wool Scarf"]
    staff = await client.get("/api/v1/products", params={"q": "jacket"}, headers=keys.auth("viewer"))
    assert names(staff.json()["items"]) == ["Prototype Jacket"]
    assert (await client.get("/api/v1/products", params={"q": "zebra"})).json()["items"] == []
