"""Sending feedback: from a client app's key, from the storefront's script and from its plain form."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from shelf.analytics.models import events
from shelf.app import Container
from shelf.feedback.models import Feedback
from shelf.web.shopper import COOKIE
from tests.conftest import Keys
from tests.integration.analytics.helpers import stored
from tests.integration.catalog.helpers import assert_problem
from tests.integration.feedback.helpers import FEEDBACK, app_body, new_product, shopper, submit, visitor_body
from tests.integration.web.helpers import BROWSER, assert_self_contained


async def count(container: Container) -> int:
    async with container.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Feedback)) or 0)


def honeypot_count() -> float:
    return REGISTRY.get_sample_value("shelf_feedback_submissions_total", {"outcome": "honeypot"}) or 0.0


async def test_a_client_app_sends_feedback_with_its_context(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    product = await new_product(container)
    agent = "ShopApp/2.1 (iPhone; iOS 18.1) " + "x" * 400
    answer = await client.post(
        FEEDBACK,
        json=app_body(
            product_id=product["id"],
            email="  ada@example.com ",
            text="  Great scarf.\r\nThe size chart is hard to find.  ",
            distinct_id="user-42",
        ),
        headers=keys.auth("client") | {"User-Agent": agent},
    )
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert set(receipt) == {"id", "rating", "created_at"}
    assert uuid.UUID(receipt["id"]).version == 7
    assert receipt["rating"] == 4

    read = await client.get(f"{FEEDBACK}/{receipt['id']}", headers=keys.auth("viewer"))
    assert read.status_code == 200, read.text
    assert read.headers["etag"] == '"1"'
    body = read.json()
    assert body["text"] == "Great scarf.\nThe size chart is hard to find."
    assert body["product_id"] == product["id"]
    assert body["product_name"] == product["name"]
    assert body["variants"] == {"checkout-button": "green", "new-nav": "control"}
    assert body["distinct_id"] == "user-42"
    assert body["page"] == "/products/scarf"
    assert body["source"] == "app"
    assert body["status"] == "new"
    assert body["note"] == ""
    assert body["version"] == 1
    assert body["user_agent"] == agent[:256]
    assert body["triaged_by"] is None
    # The email is personal data: a viewer learns only that there is one; an admin reads it.
    assert body["email"] is None
    assert body["has_email"] is True
    as_admin = (await client.get(f"{FEEDBACK}/{receipt['id']}", headers=keys.auth("admin"))).json()
    assert as_admin["email"] == "ada@example.com"


async def test_the_storefront_script_sends_feedback_as_the_shoppers_visitor(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    visitor = await shopper(client)
    # What a page says about who it is and what it saw is ignored: the server decides both.
    body = visitor_body(distinct_id="someone-else", variants={"x": "forged"})
    answer = await client.post(FEEDBACK, json=body, headers=visitor.headers)
    assert answer.status_code == 201, answer.text
    read = (await client.get(f"{FEEDBACK}/{answer.json()['id']}", headers=keys.auth("viewer"))).json()
    assert re.fullmatch(r"anon-[0-9a-f]{32}", read["distinct_id"])
    assert read["variants"] == {}  # no flags are wired into this app
    assert read["source"] == "storefront"
    # The same visitor, the same id: the cookie names them.
    again = await client.post(FEEDBACK, json=visitor_body(rating=2), headers=visitor.headers)
    second = (await client.get(f"{FEEDBACK}/{again.json()['id']}", headers=keys.auth("viewer"))).json()
    assert second["distinct_id"] == read["distinct_id"]


async def test_anonymous_posts_without_the_pages_token_are_refused(
    client: httpx.AsyncClient, container: Container
) -> None:
    visitor = await shopper(client)
    other = await shopper(client)
    attempts = [
        {},  # no cookie, no token
        visitor.cookie_header,  # the cookie alone (what another site can make a browser send)
        {"X-CSRF-Token": visitor.token},  # a token without its cookie
        {"Cookie": f"{COOKIE}={visitor.cookie}", "X-CSRF-Token": other.token},  # someone else's token
        {"Cookie": f"{COOKIE}={visitor.cookie}", "X-CSRF-Token": "0" * 64},
    ]
    for headers in attempts:
        refused = await client.post(FEEDBACK, json=visitor_body(), headers=headers)
        assert_problem(refused, 403)
    assert await count(container) == 0


async def test_the_form_works_without_javascript_and_thanks_the_shopper(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    product = await new_product(container, name="Alpine Wool Hat")
    visitor = await shopper(client, f"/feedback?product={product['id']}")
    form = {
        "csrf_token": visitor.token,
        "rating": "3",
        "text": "Warm, but itchy.",
        "email": "",
        "page": f"/feedback?product={product['id']}",
        "product_id": product["id"],
        "website": "",
    }
    posted = await client.post("/feedback", data=form, headers=BROWSER | visitor.cookie_header)
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == f"/feedback?sent=1&product={product['id']}"
    thanks = await client.get(posted.headers["location"], headers=BROWSER | visitor.cookie_header)
    assert thanks.status_code == 200
    assert "Thank you for your feedback" in thanks.text
    assert f'href="/products/{product["id"]}/alpine-wool-hat">Back to Alpine Wool Hat' in thanks.text
    assert 'name="rating"' not in thanks.text  # the form is not shown again
    assert_self_contained(thanks.text)

    items = (await client.get(FEEDBACK, headers=keys.auth("viewer"))).json()["items"]
    assert [(i["rating"], i["text"], i["email"], i["has_email"]) for i in items] == [
        (3, "Warm, but itchy.", None, False)
    ]
    assert items[0]["product_id"] == product["id"]
    assert items[0]["page"] == f"/feedback?product={product['id']}"


async def test_a_refused_form_comes_back_with_each_problem_and_what_was_typed(
    client: httpx.AsyncClient, container: Container
) -> None:
    visitor = await shopper(client)
    form = {"csrf_token": visitor.token, "text": "x" * 2001, "email": "not an email", "page": "/feedback"}
    refused = await client.post("/feedback", data=form, headers=BROWSER | visitor.cookie_header)
    assert refused.status_code == 422
    html = refused.text
    assert "Choose a rating from 1 to 5 stars." in html
    assert "Your message must be at most 2,000 characters long (it has 2,001)." in html
    assert "Enter an email address such as name@example.com, or leave it empty." in html
    assert 'value="not an email"' in html
    assert ">" + "x" * 2001 + "</textarea>" in html
    assert 'aria-invalid="true"' in html
    assert await count(container) == 0

    forged = await client.post("/feedback", data=form | {"csrf_token": "forged"}, headers=BROWSER)
    assert forged.status_code == 403
    assert "text/html" in forged.headers["content-type"]


async def test_out_of_range_input_is_a_422_naming_each_field(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    body = {
        "rating": 6,
        "text": "y" * 2001,
        "email": "ada@",
        "page": "https://elsewhere.example/x",
        "product_id": "not-a-uuid",
        "distinct_id": "",
        "variants": {"bad key!": "on"},
        "colour": "blue",
    }
    refused = await client.post(FEEDBACK, json=body, headers=keys.auth("client"))
    problem = assert_problem(refused, 422)
    fields = {error["field"] for error in problem["errors"]}
    assert fields == {"rating", "text", "email", "page", "product_id", "distinct_id", "variants", "colour"}
    for rating in (0, -1, 2.5, True, "5", None):
        wrong = await client.post(FEEDBACK, json=app_body(rating=rating), headers=keys.auth("client"))
        assert [e["field"] for e in assert_problem(wrong, 422)["errors"]] == ["rating"], rating
    missing = await client.post(FEEDBACK, json={"text": "no rating"}, headers=keys.auth("client"))
    assert {e["field"] for e in assert_problem(missing, 422)["errors"]} == {"rating", "distinct_id"}
    not_json = await client.post(FEEDBACK, content=b"rating=5", headers=keys.auth("client"))
    assert_problem(not_json, 415)
    too_many = app_body(variants={f"flag-{i}": "on" for i in range(51)})
    assert_problem(await client.post(FEEDBACK, json=too_many, headers=keys.auth("client")), 422)
    assert await count(container) == 0


async def test_the_product_must_be_one_the_submitter_may_see(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    draft = await new_product(container, status="draft")
    for product_id in (str(uuid.uuid4()), draft["id"]):
        refused = await client.post(
            FEEDBACK, json=app_body(product_id=product_id), headers=keys.auth("client")
        )
        assert [e["field"] for e in assert_problem(refused, 422)["errors"]] == ["product_id"]
    # Staff may leave feedback on a draft they can see.
    await submit(client, keys.auth("editor"), product_id=draft["id"])


async def test_feedback_outlives_its_product(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    product = await new_product(container)
    receipt = await submit(client, keys.auth("client"), product_id=product["id"])
    deleted = await client.delete(
        f"/api/v1/products/{product['id']}", headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert deleted.status_code == 204
    read = (await client.get(f"{FEEDBACK}/{receipt['id']}", headers=keys.auth("viewer"))).json()
    assert read["product_id"] == product["id"]
    assert read["product_name"] is None
    listed = await client.get(FEEDBACK, params={"product": product["id"]}, headers=keys.auth("viewer"))
    assert [item["id"] for item in listed.json()["items"]] == [receipt["id"]]


async def test_a_filled_honeypot_looks_accepted_but_nothing_is_kept(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    caught_before = honeypot_count()
    bot = await client.post(
        FEEDBACK, json=app_body(website="http://spam.example"), headers=keys.auth("client")
    )
    assert bot.status_code == 201
    assert set(bot.json()) == {"id", "rating", "created_at"}
    assert (
        await client.get(f"{FEEDBACK}/{bot.json()['id']}", headers=keys.auth("viewer"))
    ).status_code == 404

    visitor = await shopper(client)
    form = {"csrf_token": visitor.token, "rating": "5", "text": "buy pills", "website": "pills.example"}
    posted = await client.post("/feedback", data=form, headers=BROWSER | visitor.cookie_header)
    assert posted.status_code == 303
    assert posted.headers["location"] == "/feedback?sent=1"
    script = await client.post(FEEDBACK, json=visitor_body(website="x"), headers=visitor.headers)
    assert script.status_code == 201

    assert await count(container) == 0
    assert await stored(container, event="feedback_submitted") == 0
    assert honeypot_count() == caught_before + 3


async def test_each_submission_is_an_analytics_event(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    product = await new_product(container)
    receipt = await submit(
        client,
        keys.auth("client"),
        product_id=product["id"],
        distinct_id="user-7",
        rating=2,
        page="/checkout",
    )
    assert await stored(container, event="feedback_submitted") == 1
    async with container.database.engine.connect() as connection:
        row = (
            await connection.execute(
                select(events.c.distinct_id, events.c.product_id, events.c.properties).where(
                    events.c.event == "feedback_submitted"
                )
            )
        ).one()
    properties = row.properties if isinstance(row.properties, dict) else json.loads(row.properties)
    assert row.distinct_id == "user-7"
    assert row.product_id == product["id"]
    assert properties["feedback_id"] == receipt["id"]
    assert properties["rating"] == 2
    assert properties["page"] == "/checkout"
    assert properties["variants"] == {"checkout-button": "green", "new-nav": "control"}
    assert properties["$feature/checkout-button"] == "green"
    assert properties["$feature/new-nav"] == "control"
    assert "email" not in properties
    assert "text" not in properties

    # A storefront visitor whose browser asks not to be tracked: the feedback is kept, no event.
    visitor = await shopper(client)
    quiet = await client.post(FEEDBACK, json=visitor_body(), headers=visitor.headers | {"Sec-GPC": "1"})
    assert quiet.status_code == 201
    assert await count(container) == 2
    assert await stored(container, event="feedback_submitted") == 1


async def test_emails_past_retention_are_hidden_and_erased(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    old = await submit(client, keys.auth("client"), email="old@example.com")
    recent = await submit(client, keys.auth("client"), email="new@example.com")
    async with container.database.engine.begin() as connection:
        await connection.execute(
            update(Feedback)
            .where(Feedback.id == uuid.UUID(old["id"]))
            .values(created_at=datetime.now(UTC) - timedelta(days=181))
        )
    # Hidden at once, whatever the erasure's schedule...
    read = (await client.get(f"{FEEDBACK}/{old['id']}", headers=keys.auth("admin"))).json()
    assert (read["email"], read["has_email"]) == (None, False)
    # ...and erased by the next erasure, which leaves recent emails alone.
    assert await container.feedback.erase_expired_emails() == 1
    async with container.database.sessions() as session:
        emails = {
            row[0]: row[1] for row in (await session.execute(select(Feedback.id, Feedback.email))).all()
        }
    assert emails == {uuid.UUID(old["id"]): None, uuid.UUID(recent["id"]): "new@example.com"}
