"""REST routes of the catalog. Each one parses, calls one service function, shapes the response."""

from __future__ import annotations

import re
import uuid
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductCreate, ProductPage, ProductRead
from shelf.catalog.service import CatalogService, Preconditions, Representation
from shelf.gateway.auth import PrincipalDep
from shelf.gateway.fastpath import CachedLookup
from shelf.gateway.http import (
    MERGE_PATCH_TYPES,
    CachePolicy,
    JSONResponse,
    parse_etags,
    read_json,
    representation_response,
)
from shelf.platform.errors import InvalidInput
from shelf.platform.idempotency import MAX_KEY_LENGTH

router = APIRouter(prefix="/api/v1/products", tags=["products"])


# Dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a worker thread, a
# thread handoff per dependency per request that cost a third of an uncached read.
async def _catalog(request: Request) -> CatalogService:
    service: CatalogService = request.app.state.container.catalog
    return service


async def _cache_policy(request: Request) -> CachePolicy:
    policy: CachePolicy = request.app.state.container.cache_policy
    return policy


CatalogDep = Annotated[CatalogService, Depends(_catalog)]
CachePolicyDep = Annotated[CachePolicy, Depends(_cache_policy)]
IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
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
    catalog: CatalogDep,
    cache_policy: CachePolicyDep,
    principal: PrincipalDep,
    query: Annotated[ProductQuery, Query()],
    if_none_match: IfNoneMatch = None,
) -> Response:
    page = await catalog.read_page(principal, query)
    return representation_response(page, if_none_match, cache_policy)


@router.get("/{product_id}", response_model=ProductRead, summary="Read a product")
async def get_product(
    product_id: uuid.UUID,
    catalog: CatalogDep,
    cache_policy: CachePolicyDep,
    principal: PrincipalDep,
    if_none_match: IfNoneMatch = None,
) -> Response:
    product = await catalog.read_product(principal, product_id)
    return representation_response(product, if_none_match, cache_policy)


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


# The gateway's fast path (gateway/fastpath.py) answers cached public reads before routing. It must
# take exactly the URLs the two GET routes above take, and read them the same way; anything it is
# unsure of goes the normal way and gets the normal answer. So: a product id in its hyphenated form
# only (the route accepts others too), and a list query whose parameters each appear once.
_PRODUCT_PATH = re.compile(rf"{router.prefix}/([0-9a-fA-F]{{8}}(?:-[0-9a-fA-F]{{4}}){{3}}-[0-9a-fA-F]{{12}})")


def cached_public_reads(catalog: CatalogService) -> CachedLookup:
    """The fast path's lookup: the cached public representation at ``path``, or None."""

    async def lookup(path: str, query_string: bytes) -> Representation | None:
        if path == router.prefix:
            query = _page_query(query_string)
            return None if query is None else await catalog.cached_public_page(query)
        match = _PRODUCT_PATH.fullmatch(path)
        return None if match is None else await catalog.cached_public_product(uuid.UUID(match[1]))

    return lookup


def _page_query(query_string: bytes) -> ProductQuery | None:
    """The query FastAPI would build from this query string, or None when it would refuse it or
    when the reading is ambiguous (a repeated parameter)."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)  # as Starlette reads it
    params = dict(pairs)
    if len(params) != len(pairs):
        return None
    try:
        return ProductQuery.model_validate(params)
    except ValidationError:
        return None
