"""Helpers of the feedback tests: a storefront visitor's cookie and form token, and bodies."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx

from shelf.app import Container
from shelf.web.shopper import COOKIE
from tests.integration.web.helpers import BROWSER, add_product, csrf_token_of

FEEDBACK = "/api/v1/feedback"
_people = itertools.count(1)


@dataclass(frozen=True)
class Shopper:
    """A storefront visitor: the shopper cookie a page set, and the form token it carried."""

    cookie: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """What the page's script sends with its JSON post."""
        return {"Cookie": f"{COOKIE}={self.cookie}", "X-CSRF-Token": self.token}

    @property
    def cookie_header(self) -> dict[str, str]:
        return {"Cookie": f"{COOKIE}={self.cookie}"}


async def shopper(client: httpx.AsyncClient, path: str = "/feedback") -> Shopper:
    page = await client.get(path, headers=BROWSER)
    assert page.status_code == 200, page.text
    cookie = client.cookies.get(COOKIE)
    assert cookie, "the page set no shopper cookie"
    client.cookies.clear()  # sent explicitly, so a test says which visitor it is
    return Shopper(cookie, csrf_token_of(page.text))


def app_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "rating": 4,
        "text": "The scarf is lovely, but the size chart is hard to find.",
        "distinct_id": f"user-{next(_people)}",
        "page": "/products/scarf",
        "variants": {"checkout-button": "green", "new-nav": "control"},
    }
    body.update(overrides)
    return body


def visitor_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"rating": 5, "text": "Found what I needed quickly.", "page": "/feedback"}
    body.update(overrides)
    return body


async def submit(client: httpx.AsyncClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    answer = await client.post(FEEDBACK, json=app_body(**overrides), headers=headers)
    assert answer.status_code == 201, answer.text
    receipt: dict[str, Any] = answer.json()
    return receipt


async def new_product(container: Container, **overrides: Any) -> dict[str, Any]:
    """A product created through the catalog service, with its id as the API writes it."""
    product = await add_product(container, **overrides)
    return product | {"id": str(product["id"])}
