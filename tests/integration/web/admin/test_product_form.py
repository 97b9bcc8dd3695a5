"""Creating, editing and deleting products with the console's forms: valid, invalid, conflicting."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import httpx

from shelf.app import Container
from shelf.catalog.service import Preconditions
from tests.integration.web.admin.conftest import Staff, log_in
from tests.integration.web.helpers import BROWSER, SETUP, add_product, assert_self_contained, csrf_token_of
from tests.security.conftest import audit_count

NEW_FORM = {
    "name": "Harbour Lantern",
    "sku": "LANTERN-1",
    "description": "A brass lantern.\nStorm proof.",
    "price": "49.9O",  # a letter O, not a zero
    "currency": "EUR",
    "status": "active",
    "category": "lighting",
    "tags": "brass, outdoor",
    "stock": "7",
    "attributes": 'colour = brass\nheight_cm = 32\nweight_kg = 1.25\nfragile = true\nmodel = "1200"',
}


def field_error(html: str, name: str) -> str | None:
    """The error shown next to a field, as the reader reads it."""
    error = rf'<p class="field__error" id="field-{name}-error"><span class="visually-hidden">Error: </span>'
    match = re.search(error + "([^<]*)</p>", html)
    return unescape(match.group(1)) if match else None


def value_of(html: str, name: str) -> str:
    match = re.search(rf'id="field-{name}" name="{name}"[^>]*value="([^"]*)"', html)
    assert match, f"no input {name}"
    return match.group(1)


async def _new_form(client: httpx.AsyncClient) -> dict[str, str]:
    page = await client.get("/admin/products/new", headers=BROWSER)
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key
    return {"csrf_token": csrf_token_of(page.text), "idempotency_key": key.group(1)}


async def test_create_shows_the_price_error_next_to_price_then_creates_once(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await log_in(client, staff.editor)
    hidden = await _new_form(client)
    refused = await client.post("/admin/products/new", data=NEW_FORM | hidden, headers=BROWSER)
    assert refused.status_code == 422
    html = refused.text
    assert field_error(html, "price") == 'Amount must be a decimal number such as "249.00".'
    assert 'aria-describedby="field-price-error" aria-invalid="true"' in html
    assert '<a href="#field-price">' in html  # the summary links to the field
    assert value_of(html, "price") == "49.9O"  # what was typed is kept
    assert value_of(html, "name") == "Harbour Lantern"
    assert "Storm proof." in html
    assert field_error(html, "name") is None
    assert_self_contained(html)

    fixed = NEW_FORM | hidden | {"price": "49.90"}
    created = await client.post("/admin/products/new", data=fixed, headers=BROWSER)
    assert created.status_code == 303
    location = created.headers["location"]
    assert re.fullmatch(r"/admin/products/[0-9a-f-]{36}\?created=1", location)
    again = await client.post("/admin/products/new", data=fixed, headers=BROWSER)  # a double post
    assert again.headers["location"] == location
    page = await client.get(location, headers=BROWSER)
    assert "Product created." in page.text
    product_id = location.split("/")[3].split("?")[0]
    stored, _etag = await container.catalog.get_product(SETUP, product_id)
    assert stored["price"] == {"amount": "49.90", "currency": "EUR"}
    assert stored["tags"] == ["brass", "outdoor"]
    assert stored["attributes"] == {
        "colour": "brass",
        "height_cm": 32,
        "weight_kg": stored["attributes"]["weight_kg"],
        "fragile": True,
        "model": "1200",
    }
    assert str(stored["attributes"]["weight_kg"]) == "1.25"
    assert stored["description"] == "A brass lantern.\nStorm proof."
    shop = await client.get("/products?q=lantern", headers=BROWSER)
    assert "Harbour Lantern" in shop.text


async def test_every_bad_field_is_named_at_once(client: httpx.AsyncClient, staff: Staff) -> None:
    await log_in(client, staff.editor)
    bad = {
        "name": "",
        "sku": "has spaces",
        "price": "",
        "currency": "EUR",
        "status": "published",
        "category": "Not A Slug",
        "tags": ", ".join(f"t{n}" for n in range(25)),
        "stock": "-3",
        "attributes": "no equals sign here",
    }
    refused = await client.post("/admin/products/new", data=bad | await _new_form(client), headers=BROWSER)
    assert refused.status_code == 422
    html = refused.text
    assert field_error(html, "name") == "Must be 1 to 200 characters long."
    assert field_error(html, "sku") == "A SKU is 1 to 64 letters, digits, '.', '_' or '-'."
    assert field_error(html, "price") == "Enter the price, such as 49.90."
    assert field_error(html, "status") == "Choose draft, active or archived."
    assert field_error(html, "category") is not None
    assert field_error(html, "tags") == "Use at most 20 tags."
    assert field_error(html, "stock") == "Enter the stock as a whole number from 0 to 2,000,000,000."
    assert field_error(html, "attributes") == "Line 1: write each attribute as name = value."
    summary = re.findall(r'<li><a href="#field-(\w+)">', html)
    assert summary == ["name", "sku", "tags", "attributes", "status", "price", "category", "stock"]

    cents = await client.post(
        "/admin/products/new", data=NEW_FORM | {"price": "1.234"} | await _new_form(client), headers=BROWSER
    )
    assert field_error(cents.text, "price") == "EUR allows at most 2 decimal places."


async def test_a_taken_sku_is_shown_next_to_sku(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    await add_product(container, sku="TAKEN-1")
    await log_in(client, staff.editor)
    form = NEW_FORM | {"sku": "TAKEN-1", "price": "5.00"} | await _new_form(client)
    refused = await client.post("/admin/products/new", data=form, headers=BROWSER)
    assert refused.status_code == 409
    assert field_error(refused.text, "sku") == "A product with SKU 'TAKEN-1' already exists."


def _edit_form(html: str) -> dict[str, Any]:
    form: dict[str, Any] = {"csrf_token": csrf_token_of(html)}
    version = re.search(r'name="version" value="(\d+)"', html)
    assert version
    form["version"] = version.group(1)
    for name in ("name", "sku", "price", "category", "tags", "stock"):
        form[name] = value_of(html, name)
    for name in ("description", "attributes"):
        match = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', html)
        assert match
        form[name] = match.group(1).replace("&#34;", '"').replace("&quot;", '"')
    for name in ("status", "currency"):
        match = re.search(rf'name="{name}".*?<option value="([^"]+)" selected>', html, re.S)
        assert match
        form[name] = match.group(1)
    return form


async def test_saving_an_unchanged_form_changes_nothing(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    """The form reads back exactly what it shows: attribute types and all."""
    product = await add_product(
        container, attributes={"color": "navy", "weight_g": 180, "organic": True, "code": "007"}
    )
    await log_in(client, staff.editor)
    page = (await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).text
    assert "weight_g = 180" in page
    before = await audit_count(container)
    saved = await client.post(f"/admin/products/{product['id']}", data=_edit_form(page), headers=BROWSER)
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/admin/products/{product['id']}?saved=1"
    assert await audit_count(container) == before  # no change, no new version
    stored, etag = await container.catalog.get_product(SETUP, product["id"])
    assert etag == '"1"'
    assert stored["attributes"] == {"color": "navy", "weight_g": 180, "organic": True, "code": "007"}


async def test_an_edit_conflict_keeps_the_typed_values_and_offers_the_latest(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container, name="Conflict Chair", stock=4)
    await log_in(client, staff.editor)
    mine = _edit_form((await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).text)
    # Someone else saves first.
    await container.catalog.update_product(
        SETUP, product["id"], {"name": "Their Chair"}, Preconditions(['"1"'])
    )

    clash = await client.post(f"/admin/products/{product['id']}", data=mine | {"stock": "9"}, headers=BROWSER)
    assert clash.status_code == 409
    html = clash.text
    assert "Someone else saved this product first" in html
    assert "Your changes are not saved" in html
    assert f'<a href="/admin/products/{product["id"]}">reload the latest version</a>' in html
    assert value_of(html, "stock") == "9"  # mine, kept
    assert value_of(html, "name") == "Conflict Chair"
    assert "Saved meanwhile: Their Chair" in html  # theirs, beside the field
    assert "Saved meanwhile: 4" in html
    stored, etag = await container.catalog.get_product(SETUP, product["id"])
    assert (stored["name"], stored["stock"], etag) == ("Their Chair", 4, '"2"')  # nothing overwritten

    # Reloading shows theirs; saving again from the conflict page is a deliberate replace.
    reloaded = await client.get(f"/admin/products/{product['id']}", headers=BROWSER)
    assert value_of(reloaded.text, "name") == "Their Chair"
    again = await client.post(f"/admin/products/{product['id']}", data=_edit_form(html), headers=BROWSER)
    assert again.status_code == 303
    stored, etag = await container.catalog.get_product(SETUP, product["id"])
    assert (stored["name"], stored["stock"], etag) == ("Conflict Chair", 9, '"3"')


async def test_invalid_edits_are_refused_inline_and_change_nothing(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container, name="Valid Desk")
    await log_in(client, staff.editor)
    form = _edit_form((await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).text)
    refused = await client.post(
        f"/admin/products/{product['id']}", data=form | {"price": "-1"}, headers=BROWSER
    )
    assert refused.status_code == 422
    assert field_error(refused.text, "price") == "Amount must not be negative."
    assert value_of(refused.text, "price") == "-1"
    _stored, etag = await container.catalog.get_product(SETUP, product["id"])
    assert etag == '"1"'


async def test_a_product_deleted_while_being_edited_keeps_the_typed_values(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container, name="Vanishing Stool")
    await log_in(client, staff.editor)
    form = _edit_form((await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).text)
    await container.catalog.delete_product(SETUP, product["id"], Preconditions(['"1"']))
    gone = await client.post(f"/admin/products/{product['id']}", data=form | {"stock": "5"}, headers=BROWSER)
    assert gone.status_code == 404
    assert "Someone deleted this product while you were editing it" in gone.text
    assert value_of(gone.text, "stock") == "5"
    assert 'action="/admin/products/new"' in gone.text
    assert "Create product" in gone.text


async def test_delete_asks_first_and_refuses_a_changed_product(
    client: httpx.AsyncClient, container: Container, staff: Staff
) -> None:
    product = await add_product(container, name="Doomed Shelf")
    csrf = await log_in(client, staff.editor)
    url = f"/admin/products/{product['id']}/delete"
    ask = await client.post(url, data={"csrf_token": csrf, "version": "1"}, headers=BROWSER)
    assert ask.status_code == 200
    assert "Delete Doomed Shelf?" in ask.text
    assert "Delete for good" in ask.text
    await container.catalog.update_product(SETUP, product["id"], {"stock": 1}, Preconditions(['"1"']))
    stale = await client.post(
        url, data={"csrf_token": csrf, "version": "1", "confirm": "yes"}, headers=BROWSER
    )
    assert stale.status_code == 409
    assert "It changed meanwhile" in stale.text
    assert 'name="version" value="2"' in stale.text
    done = await client.post(
        url, data={"csrf_token": csrf, "version": "2", "confirm": "yes"}, headers=BROWSER
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin/products?deleted=1"
    assert "The product was deleted." in (await client.get(done.headers["location"], headers=BROWSER)).text
    assert (await client.get(f"/admin/products/{product['id']}", headers=BROWSER)).status_code == 404


async def test_an_unknown_product_is_the_consoles_404(client: httpx.AsyncClient, staff: Staff) -> None:
    await log_in(client, staff.viewer)
    for path in ("/admin/products/not-an-id", "/admin/products/01234567-89ab-7def-8123-456789abcdef"):
        page = await client.get(path, headers=BROWSER)
        assert page.status_code == 404
        assert "Go to the dashboard" in page.text
