"""The storefront tracker's server side: its settings on every page, its endpoint, consent and DNT,
and the ``$identify`` link made when a console user logs in (ADR 0017)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from shelf.analytics.aliases import person_aliases
from shelf.analytics.models import events, person_of
from shelf.app import Container
from shelf.gateway.auth import SESSION_COOKIE
from shelf.identity.permissions import Role
from shelf.web.shopper import COOKIE
from shelf.web.storefront.tracking import CONSENT_COOKIE
from tests.integration.analytics.helpers import stored
from tests.integration.web.helpers import BROWSER, add_product, assert_self_contained, csrf_token_of

SCRIPT = re.compile(r"<script [^>]*data-shelf-tracker[^>]*>")
PASSWORD = "correct horse battery staple"


def tracker_tag(html: str) -> dict[str, str]:
    match = SCRIPT.search(html)
    assert match, "no tracker script on the page"
    return dict(re.findall(r'(data-[a-z-]+)="([^"]*)"', match.group(0)))


def beacon(token: str, batch: list[dict[str, Any]] | str, **headers: str) -> dict[str, Any]:
    body = {"csrf_token": token, "batch": batch if isinstance(batch, str) else json.dumps(batch)}
    return {"data": body, "headers": {"Content-Type": "application/x-www-form-urlencoded", **headers}}


def pageview(**properties: Any) -> dict[str, Any]:
    return {"event": "$pageview", "uuid": str(uuid.uuid4()), "offset": 5, "properties": properties}


async def rows(container: Container) -> list[Any]:
    await container.analytics.buffer.flush()
    async with container.database.engine.connect() as connection:
        query = select(events.c.event, events.c.distinct_id, events.c.properties, events.c.product_id)
        return list((await connection.execute(query.order_by(events.c.timestamp_ms))).all())


async def open_shop(client: httpx.AsyncClient, path: str = "/", **headers: str) -> dict[str, str]:
    page = await client.get(path, headers=BROWSER | headers)
    assert page.status_code == 200, page.text
    assert_self_contained(page.text)
    return tracker_tag(page.text)


@contextmanager
def consent_required(app: FastAPI) -> Iterator[None]:
    tracking = app.state.tracking
    tracking.mode = "required"
    try:
        yield
    finally:
        tracking.mode = "implied"


async def test_every_storefront_page_carries_the_tracker_with_the_shoppers_own_id(
    client: httpx.AsyncClient, app: FastAPI, container: Container
) -> None:
    product = await add_product(container, name="Tracked Kettle", sku="TRACK-1")
    home = await open_shop(client)
    shopper = app.state.pages.cookies.decode(client.cookies[COOKIE])
    assert home["data-distinct-id"] == shopper.distinct_id
    assert home["data-endpoint"] == "/storefront/events"
    assert home["data-consent"] == "granted"
    assert home["data-dnt"] == "0"
    assert "data-product-id" not in home
    assert "data-search-query" not in home

    viewed = await open_shop(client, f"/products/{product['id']}")
    assert viewed["data-distinct-id"] == shopper.distinct_id  # one id across pages
    assert (viewed["data-product-id"], viewed["data-sku"]) == (str(product["id"]), "TRACK-1")
    assert (viewed["data-price"], viewed["data-currency"]) == (str(product["price"]["amount"]), "EUR")

    searched = await open_shop(client, "/products?q=kettle")
    assert (searched["data-search-query"], searched["data-search-results"]) == ("kettle", "1")
    assert searched["data-search-more"] == "0"
    none_found = await open_shop(client, "/products?q=nothing-like-this")
    assert none_found["data-search-results"] == "0"
    assert "data-search-query" not in await open_shop(client, "/products")


async def test_a_beacon_is_stored_as_the_cookies_visitor_whatever_it_claims(
    client: httpx.AsyncClient, app: FastAPI, container: Container
) -> None:
    tag = await open_shop(client)
    batch = [
        pageview(distinct_id="someone-else", **{"$anon_distinct_id": "forged", "$pathname": "/"}),
        {"event": "add_to_cart", "uuid": str(uuid.uuid4()), "properties": {"product_id": "p-1"}},
    ]
    answer = await client.post("/storefront/events", **beacon(tag["data-token"], batch))
    assert answer.status_code == 204, answer.text
    again = await client.post("/storefront/events", **beacon(tag["data-token"], batch))  # a retried beacon
    assert again.status_code == 204
    stored_rows = await rows(container)
    assert [row.event for row in stored_rows] == ["$pageview", "add_to_cart"]
    assert {row.distinct_id for row in stored_rows} == {tag["data-distinct-id"]}
    properties = stored_rows[0].properties
    properties = json.loads(properties) if isinstance(properties, str) else properties
    assert "distinct_id" not in properties
    assert "$anon_distinct_id" not in properties
    assert properties["$lib"] == "shelf-tracker"
    assert stored_rows[1].product_id == "p-1"


async def test_a_beacon_without_the_pages_token_or_cookie_is_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    tag = await open_shop(client)
    wrong = await client.post("/storefront/events", **beacon("0" * 64, [pageview()]))
    assert wrong.status_code == 403
    assert wrong.headers["content-type"].startswith("application/problem+json")
    client.cookies.clear()
    no_cookie = await client.post("/storefront/events", **beacon(tag["data-token"], [pageview()]))
    assert no_cookie.status_code == 403
    assert await stored(container) == 0


async def test_a_bad_or_oversized_beacon_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, container: Container
) -> None:
    token = (await open_shop(client))["data-token"]
    cases = {
        "not json": (beacon(token, "[not json"), 400),
        "not a list": (beacon(token, '{"event": "$pageview"}'), 400),
        "an sdk's event": (beacon(token, [{"event": "$identify", "properties": {}}]), 422),
        "too many": (beacon(token, [pageview() for _ in range(51)]), 422),
        "too large": (beacon(token, [pageview(padding="x" * 70_000)]), 413),
    }
    for name, (request, status) in cases.items():
        answer = await client.post("/storefront/events", **request)
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json"), name
    as_json = await client.post("/storefront/events", json={"csrf_token": token, "batch": "[]"})
    assert as_json.status_code == 415
    assert await stored(container) == 0


async def test_do_not_track_and_global_privacy_control_mean_nothing_is_recorded(
    client: httpx.AsyncClient, container: Container
) -> None:
    for header in ({"DNT": "1"}, {"Sec-GPC": "1"}):
        tag = await open_shop(client, **header)
        assert tag["data-dnt"] == "1"
        answer = await client.post("/storefront/events", **beacon(tag["data-token"], [pageview()], **header))
        assert answer.status_code == 204
    assert await stored(container) == 0


async def test_with_consent_required_nothing_is_recorded_until_the_shopper_accepts(
    client: httpx.AsyncClient, app: FastAPI, container: Container
) -> None:
    with consent_required(app):
        page = await client.get("/products", headers=BROWSER)
        assert 'aria-labelledby="consent-title"' in page.text
        tag = tracker_tag(page.text)
        assert tag["data-consent"] == "pending"
        answer = await client.post("/storefront/events", **beacon(tag["data-token"], [pageview()]))
        assert answer.status_code == 204
        assert await stored(container) == 0

        refused = await client.post(
            "/storefront/consent",
            data={"csrf_token": csrf_token_of(page.text), "choice": "granted", "next": "//evil.example/x"},
        )
        assert refused.status_code == 303
        assert refused.headers["location"] == "/"  # never another site
        accepted = await client.post(
            "/storefront/consent",
            data={"csrf_token": csrf_token_of(page.text), "choice": "granted", "next": "/products?q=a"},
        )
        assert accepted.status_code == 303
        assert accepted.headers["location"] == "/products?q=a"
        assert client.cookies[CONSENT_COOKIE] == "granted"
        after = await client.get("/products", headers=BROWSER)
        assert 'aria-labelledby="consent-title"' not in after.text  # asked once
        assert tracker_tag(after.text)["data-consent"] == "granted"
        answer = await client.post("/storefront/events", **beacon(tag["data-token"], [pageview()]))
        assert answer.status_code == 204
        assert await stored(container) == 1

        declined = await client.post(
            "/storefront/consent",
            data={"csrf_token": csrf_token_of(page.text), "choice": "denied", "next": "/"},
        )
        assert declined.status_code == 303
        assert tracker_tag((await client.get("/", headers=BROWSER)).text)["data-consent"] == "denied"
        await client.post("/storefront/events", **beacon(tag["data-token"], [pageview()]))
        assert await stored(container) == 1
        forged = await client.post("/storefront/consent", data={"csrf_token": "x", "choice": "granted"})
        assert forged.status_code == 403


async def _aliases(container: Container) -> list[Any]:
    async with container.database.engine.connect() as connection:
        return list((await connection.execute(select(person_aliases))).all())


async def test_logging_in_to_the_console_links_the_shoppers_anonymous_id_to_the_user(
    client: httpx.AsyncClient, container: Container
) -> None:
    user = await container.identity.create_user("tracked@console.test", PASSWORD, Role.VIEWER)
    anon = (await open_shop(client))["data-distinct-id"]
    form = await client.get("/admin/login", headers=BROWSER)
    answer = await client.post(
        "/admin/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_token_of(form.text)},
    )
    assert answer.status_code == 303, answer.text
    identified = [row for row in await rows(container) if row.event == "$identify"]
    assert [row.distinct_id for row in identified] == [f"user:{user.id}"]
    properties = identified[0].properties
    properties = json.loads(properties) if isinstance(properties, str) else properties
    assert properties["$anon_distinct_id"] == anon
    links = await _aliases(container)
    assert [(link.anon_distinct_id, link.distinct_id) for link in links] == [(anon, f"user:{user.id}")]
    assert (links[0].anon_person, links[0].person) == (person_of(anon), person_of(f"user:{user.id}"))


async def test_the_api_login_links_too_and_a_link_is_made_once(
    client: httpx.AsyncClient, container: Container
) -> None:
    first = await container.identity.create_user("first@console.test", PASSWORD, Role.VIEWER)
    second = await container.identity.create_user("second@console.test", PASSWORD, Role.VIEWER)
    anon = (await open_shop(client))["data-distinct-id"]
    for user in (first, second):  # a shared computer: the anonymous id stays with the first user
        login = {"username": user.email, "password": PASSWORD}
        started = await client.post("/api/v1/auth/session", data=login)
        assert started.status_code == 201, started.text
        client.cookies.delete(SESSION_COOKIE)  # signed out, as far as the browser goes
    links = await _aliases(container)
    assert [(link.anon_distinct_id, link.distinct_id) for link in links] == [(anon, f"user:{first.id}")]


async def test_no_link_without_a_shopper_cookie_or_under_do_not_track(
    client: httpx.AsyncClient, container: Container
) -> None:
    user = await container.identity.create_user("private@console.test", PASSWORD, Role.VIEWER)
    started = await client.post("/api/v1/auth/session", data={"username": user.email, "password": PASSWORD})
    assert started.status_code == 201  # no shopper cookie: nobody to link
    client.cookies.delete(SESSION_COOKIE)
    await open_shop(client)
    again = await client.post(
        "/api/v1/auth/session", data={"username": user.email, "password": PASSWORD}, headers={"DNT": "1"}
    )
    assert again.status_code == 201
    assert await _aliases(container) == []
    assert [row for row in await rows(container) if row.event == "$identify"] == []
