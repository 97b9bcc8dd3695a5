"""REST routes of the catalog. Each one parses, calls one service function, shapes the response."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from starlette.responses import Response

from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductCreate, ProductPage, ProductRead
from shelf.catalog.service import CatalogService, Preconditions
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.http import (
    MERGE_PATCH_TYPES,
    JSONResponse,
    parse_etags,
    read_json,
    weakly_matches,
)
from shelf.platform.errors import InvalidInput
from shelf.platform.idempotency import MAX_KEY_LENGTH

router = APIRouter(prefix="/api/v1/products", tags=["products"])


def _catalog(request: Request) -> CatalogService:
    service: CatalogService = request.app.state.container.catalog
    return service


CatalogDep = Annotated[CatalogService, Depends(_catalog)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
_BODY_DOC = {"content": {"application/json": {"schema": ProductCreate.model_json_schema()}}}


@router.post(
    "",
    status_code=201,
    response_model=ProductRead,
    openapi_extra={"requestBody": {"required": True, **_BODY_DOC}},
    summary="Create a product",
)
async def create_product(
    request: Request,
    catalog: CatalogDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_KEY_LENGTH:
        raise InvalidInput(
            "Idempotency-Key is 1 to 255 characters",
            [{"field": "Idempotency-Key", "message": "must be 1 to 255 characters"}],
        )
    principal.require_authenticated()
    created = await catalog.create_product(
        principal, await read_json(request), idempotency_key=idempotency_key
    )
    headers = {"ETag": created.etag, "Location": f"{router.prefix}/{created.product['id']}"}
    if created.replayed:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(created.product, status_code=201, headers=headers)


@router.get("", response_model=ProductPage, summary="List, filter and search products")
async def list_products(
    catalog: CatalogDep, principal: PrincipalDep, query: Annotated[ProductQuery, Query()]
) -> Response:
    return Response(await catalog.read_page(principal, query), media_type=JSONResponse.media_type)


@router.get("/{product_id}", response_model=ProductRead, summary="Read a product")
async def get_product(
    product_id: uuid.UUID,
    catalog: CatalogDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    product = await catalog.read_product(principal, product_id)
    candidates = parse_etags(if_none_match)
    if candidates is not None and weakly_matches(product.etag, candidates):
        return Response(status_code=304, headers={"ETag": product.etag})
    return Response(product.json, media_type=JSONResponse.media_type, headers={"ETag": product.etag})


@router.patch(
    "/{product_id}",
    response_model=ProductRead,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/merge-patch+json": {"schema": {"type": "object"}}},
        }
    },
    summary="Change a product (JSON merge patch; needs If-Match)",
)
async def update_product(
    product_id: uuid.UUID,
    request: Request,
    catalog: CatalogDep,
    principal: PrincipalDep,
    if_match: IfMatch = None,
) -> Response:
    principal.require_authenticated()
    patch = await read_json(request, MERGE_PATCH_TYPES)
    body, etag = await catalog.update_product(
        principal, product_id, patch, Preconditions(parse_etags(if_match))
    )
    return JSONResponse(body, headers={"ETag": etag})


@router.delete("/{product_id}", status_code=204, summary="Delete a product (needs If-Match)")
async def delete_product(
    product_id: uuid.UUID, catalog: CatalogDep, principal: PrincipalDep, if_match: IfMatch = None
) -> Response:
    await catalog.delete_product(principal, product_id, Preconditions(parse_etags(if_match)))
    return Response(status_code=204)
