"""Creating, editing and deleting a product with forms.

- ``GET /admin/products/new`` and ``POST`` to it: ``CatalogService.create_product``, with a key per
  form as its ``Idempotency-Key``, so a form posted twice creates one product.
- ``GET /admin/products/{id}``: the form for those who may write, the product read-only for the rest.
  ``POST`` saves the whole product with ``replace_product`` at the version the form was loaded at.
  If someone saved first (``PreconditionFailed``) nothing is overwritten: the form comes back with
  what was typed, their values beside each field that differs, and a link to reload theirs.
- ``POST /admin/products/{id}/delete`` asks for confirmation, then deletes at the version seen.

A refused form is rendered again with the service's errors next to each field (422), or 409 for a
duplicate SKU and an edit conflict.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import HTMLResponse, Response

from shelf.catalog.api import CatalogDep
from shelf.catalog.errors import DuplicateSku, ProductNotFound
from shelf.catalog.service import CatalogService, Preconditions, etag_for
from shelf.identity.permissions import Permission, Principal
from shelf.platform.errors import InvalidInput, PreconditionFailed
from shelf.web.admin.guard import AdminRoute, CatalogEditor, Staff
from shelf.web.admin.product_form import (
    CURRENCIES,
    LABELS,
    PRODUCT_FIELDS,
    STATUSES,
    ProductForm,
    field_errors,
    schema_errors,
)
from shelf.web.admin.rendering import render, see_other, sentence
from shelf.web.pages import principal_of

router = APIRouter(route_class=AdminRoute, include_in_schema=False, default_response_class=HTMLResponse)
TEMPLATE = "admin/products/form.html"


def _product_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ProductNotFound from None


def _form_page(
    request: Request,
    form: ProductForm,
    *,
    product: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    conflict: dict[str, Any] | None = None,
    message: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """The form; ``product`` is the stored product when editing one (``None`` for a new one)."""
    return render(
        request,
        TEMPLATE,
        {
            "form": form,
            "product": product,
            "errors": errors or {},
            "summary": {
                name: f"{LABELS.get(name, 'Form')}: {text}"
                for name, text in _in_form_order(errors or {}).items()
            },
            "conflict": conflict,
            "message": message,
            "notice": notice,
            "currencies": CURRENCIES,
            "statuses": STATUSES,
            "can_audit": principal_of(request).can(Permission.AUDIT_READ),
        },
        status_code=status_code,
    )


def _in_form_order(errors: dict[str, str]) -> dict[str, str]:
    """The error summary lists the fields in the order the form shows them."""
    order = {name: place for place, name in enumerate(PRODUCT_FIELDS)}
    return dict(sorted(errors.items(), key=lambda item: order.get(item[0], len(order))))


@router.get("/admin/products/new")
async def new_product(request: Request, _principal: CatalogEditor) -> Response:
    return _form_page(request, ProductForm.new())


@router.post("/admin/products/new")
async def create_product(request: Request, principal: CatalogEditor, catalog: CatalogDep) -> Response:
    form = ProductForm.from_form(await request.form())
    form.idempotency_key = form.idempotency_key[:255]
    payload, errors = form.payload()
    if errors:
        return _form_page(request, form, errors=errors | schema_errors(payload, errors), status_code=422)
    try:
        created = await catalog.create_product(
            principal, payload, idempotency_key=form.idempotency_key or None
        )
    except ValidationError as invalid:
        return _form_page(request, form, errors=field_errors(invalid), status_code=422)
    except DuplicateSku as taken:
        return _form_page(request, form, errors={"sku": sentence(taken.detail)}, status_code=409)
    except InvalidInput as refused:  # the form's key was used for another product already
        form.idempotency_key = str(uuid.uuid4())
        return _form_page(request, form, message=sentence(refused.detail), status_code=422)
    return see_other(f"/admin/products/{created.product['id']}?created=1")


@router.get("/admin/products/{product_id}")
async def product_page(request: Request, product_id: str, principal: Staff, catalog: CatalogDep) -> Response:
    product, _etag = await catalog.get_product(principal, _product_id(product_id))
    notices = {"created": "Product created.", "saved": "Saved."}
    notice = next((words for key, words in notices.items() if request.query_params.get(key) == "1"), None)
    if not principal.can(Permission.CATALOG_WRITE):
        return render(request, "admin/products/view.html", {"product": product, "notice": notice})
    return _form_page(request, ProductForm.from_product(product), product=product, notice=notice)


@router.post("/admin/products/{product_id}")
async def save_product(
    request: Request, product_id: str, principal: CatalogEditor, catalog: CatalogDep
) -> Response:
    identity = _product_id(product_id)
    form = ProductForm.from_form(await request.form())
    payload, errors = form.payload()
    seen = form.loaded_version
    try:
        stored, _etag = await catalog.get_product(principal, identity)
        if errors:
            all_errors = errors | schema_errors(payload, errors)
            return _form_page(request, form, product=stored, errors=all_errors, status_code=422)
        await catalog.replace_product(
            principal, identity, payload, Preconditions([etag_for(seen)] if seen is not None else [])
        )
    except ValidationError as invalid:
        return _form_page(request, form, product=stored, errors=field_errors(invalid), status_code=422)
    except DuplicateSku as taken:
        return _form_page(
            request, form, product=stored, errors={"sku": sentence(taken.detail)}, status_code=409
        )
    except PreconditionFailed:
        return await _conflict(request, form, principal, catalog, identity)
    except ProductNotFound:
        return _deleted_meanwhile(request, form)
    return see_other(f"/admin/products/{identity}?saved=1")


async def _conflict(
    request: Request, form: ProductForm, principal: Principal, catalog: CatalogService, product_id: uuid.UUID
) -> Response:
    """Someone saved first: keep what was typed, show theirs beside it, and load their version."""
    try:
        latest, _etag = await catalog.get_product(principal, product_id)
    except ProductNotFound:
        return _deleted_meanwhile(request, form)
    theirs = ProductForm.from_product(latest)
    conflict = {
        "differences": form.differences(theirs),
        "version": latest["version"],
        "at": latest["updated_at"],
    }
    form.version = theirs.version  # saving again now is a deliberate choice to replace theirs
    return _form_page(request, form, product=latest, conflict=conflict, status_code=409)


def _deleted_meanwhile(request: Request, form: ProductForm) -> Response:
    form.version = ""
    form.idempotency_key = str(uuid.uuid4())
    message = (
        "Someone deleted this product while you were editing it. Your values are kept below: "
        "create it again with them, or leave this page to let it go."
    )
    return _form_page(request, form, message=message, status_code=404)


@router.post("/admin/products/{product_id}/delete")
async def delete_product(
    request: Request, product_id: str, principal: CatalogEditor, catalog: CatalogDep
) -> Response:
    identity = _product_id(product_id)
    form = await request.form()
    version = str(form.get("version") or "")
    product, _etag = await catalog.get_product(principal, identity)
    context: dict[str, Any] = {"product": product, "version": version, "changed": False}
    if form.get("confirm") != "yes":
        return render(request, "admin/products/delete.html", context)
    seen = [etag_for(int(version))] if version.isdecimal() and len(version) < 10 else []
    try:
        await catalog.delete_product(principal, identity, Preconditions(seen))
    except PreconditionFailed:
        context["version"] = str(product["version"])
        context["changed"] = True
        return render(request, "admin/products/delete.html", context, status_code=409)
    return see_other("/admin/products?deleted=1")
