"""Catalog use cases. Each one checks permissions, applies the rules and owns its transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from shelf.audit.service import record
from shelf.catalog.errors import DuplicateSku, IdempotencyKeyReused, ProductNotFound
from shelf.catalog.models import Product, ProductStatus
from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductCreate, ProductPage, ProductRead, ProductWrite
from shelf.identity.permissions import Permission, Principal
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from shelf.platform.idempotency import IdempotencyRecord, request_fingerprint
from shelf.platform.ids import new_id
from shelf.uow import UnitOfWork, UnitOfWorkFactory


def etag_for(version: int) -> str:
    return f'"{version}"'


@dataclass(frozen=True)
class Created:
    product: dict[str, Any]  # the JSON body, identical on a replay
    etag: str
    replayed: bool


@dataclass(frozen=True)
class Preconditions:
    """Parsed ``If-Match``: ``None`` when the header is absent, ``["*"]`` for any version."""

    if_match: list[str] | None

    def check(self, current_etag: str) -> None:
        if self.if_match is None:
            raise PreconditionRequired(
                "send 'If-Match' with the ETag you last read, so concurrent edits are not lost"
            )
        if "*" not in self.if_match and current_etag not in self.if_match:
            raise PreconditionFailed(
                "the product changed since you read it: fetch it again and reapply your change",
                current_etag=current_etag,
            )


class ProductReader(Protocol):
    """The read side: listing and search bypass the domain model (see ``catalog.queries``)."""

    async def page(self, query: ProductQuery, *, visible_all: bool) -> ProductPage: ...


class CatalogService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reader: ProductReader,
        clock: Clock,
        *,
        idempotency_ttl: timedelta = timedelta(hours=24),
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._idempotency_ttl = idempotency_ttl
        self._reader = reader

    async def create_product(
        self, principal: Principal, payload: Any, *, idempotency_key: str | None = None
    ) -> Created:
        principal.require(Permission.CATALOG_WRITE)
        fingerprint = request_fingerprint(payload) if idempotency_key else ""
        data = ProductCreate.model_validate(payload)
        for attempt in range(2):
            async with self._uow() as uow:
                if idempotency_key:
                    replay = await self._replay(uow, principal, idempotency_key, fingerprint)
                    if replay is not None:
                        return replay
                if await uow.products.sku_taken(data.sku):
                    raise DuplicateSku(data.sku)
                now = self._clock.now()
                product = Product(
                    id=new_id(),
                    created_at=now,
                    updated_at=now,
                    version=1,
                    **_columns(data),
                )
                await uow.products.add(product)
                body = _body(product)
                record(
                    uow.audit,
                    self._clock,
                    principal,
                    "product.create",
                    entity=("product", product.id),
                    after=body,
                )
                if idempotency_key:
                    await uow.idempotency.purge_expired(now)  # indexed; keeps the table bounded
                    uow.idempotency.add(
                        IdempotencyRecord(
                            scope=principal.scope,
                            key=idempotency_key,
                            request_hash=fingerprint,
                            status_code=201,
                            body=body,
                            headers={"etag": etag_for(product.version)},
                            created_at=now,
                            expires_at=now + self._idempotency_ttl,
                        )
                    )
                try:
                    await uow.commit()
                except IntegrityError:
                    # Lost a race: either the SKU or the idempotency key was taken meanwhile.
                    # Look again in a fresh transaction; the second pass reports which.
                    if attempt == 1:
                        raise DuplicateSku(data.sku) from None
                    continue
                return Created(product=body, etag=etag_for(product.version), replayed=False)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _replay(
        self, uow: UnitOfWork, principal: Principal, key: str, fingerprint: str
    ) -> Created | None:
        stored = await uow.idempotency.get(principal.scope, key, self._clock.now())
        if stored is None:
            return None
        if stored.request_hash != fingerprint:
            raise IdempotencyKeyReused
        await uow.commit()  # keep the deletion of an expired record, if any
        return Created(product=stored.body, etag=stored.headers["etag"], replayed=True)

    async def get_product(self, principal: Principal, product_id: uuid.UUID) -> tuple[dict[str, Any], str]:
        async with self._uow() as uow:
            product = await uow.products.get(product_id)
            if product is None or not _visible(principal, product):
                raise ProductNotFound
            return _body(product), etag_for(product.version)

    async def update_product(
        self, principal: Principal, product_id: uuid.UUID, patch: Any, preconditions: Preconditions
    ) -> tuple[dict[str, Any], str]:
        principal.require(Permission.CATALOG_WRITE)
        if not isinstance(patch, dict):
            raise InvalidInput(
                "a merge patch must be a JSON object",
                [{"field": "body", "message": "expected a JSON object"}],
            )
        async with self._uow() as uow:
            product = await uow.products.get(product_id)
            if product is None:
                raise ProductNotFound
            preconditions.check(etag_for(product.version))
            current = ProductWrite.model_validate(_writable(product))
            merged = merge_patch(_writable(product), patch)
            updated = ProductWrite.model_validate(merged)
            if updated == current:
                return _body(product), etag_for(product.version)
            if updated.sku != product.sku and await uow.products.sku_taken(
                updated.sku, other_than=product.id
            ):
                raise DuplicateSku(updated.sku)
            before = _body(product)
            columns = _columns(updated)
            if columns["tags"] != product.tags:
                await uow.products.replace_tags(product, columns["tags"])
            for name, value in columns.items():
                setattr(product, name, value)
            product.updated_at = self._clock.now()
            product.version += 1
            after = _body(product)
            record(
                uow.audit,
                self._clock,
                principal,
                "product.update",
                entity=("product", product.id),
                before=before,
                after=after,
            )
            try:
                await uow.commit()  # the version column guards against a concurrent writer
            except StaleDataError:
                raise PreconditionFailed(
                    "the product changed while your update was applied: fetch it again"
                ) from None
            except IntegrityError:
                raise DuplicateSku(updated.sku) from None
            return after, etag_for(product.version)

    async def delete_product(
        self, principal: Principal, product_id: uuid.UUID, preconditions: Preconditions
    ) -> None:
        principal.require(Permission.CATALOG_WRITE)
        async with self._uow() as uow:
            product = await uow.products.get(product_id)
            if product is None:
                raise ProductNotFound
            preconditions.check(etag_for(product.version))
            record(
                uow.audit,
                self._clock,
                principal,
                "product.delete",
                entity=("product", product.id),
                before=_body(product),
            )
            await uow.products.delete(product)
            try:
                await uow.commit()
            except StaleDataError:
                raise PreconditionFailed("the product changed while it was being deleted") from None

    async def list_products(self, principal: Principal, query: ProductQuery) -> ProductPage:
        return await self._reader.page(query, visible_all=principal.can(Permission.CATALOG_READ_ALL))


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON Merge Patch: objects merge recursively, ``null`` removes, the rest replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _visible(principal: Principal, product: Product) -> bool:
    return product.status == ProductStatus.ACTIVE or principal.can(Permission.CATALOG_READ_ALL)


def _columns(data: ProductWrite) -> dict[str, Any]:
    return {
        "sku": data.sku,
        "name": data.name,
        "description": data.description,
        "price_amount": data.price.amount,
        "price_currency": data.price.currency,
        "status": data.status.value,
        "category": data.category,
        "tags": list(data.tags),
        "attributes": dict(data.attributes),
        "stock": data.stock,
    }


def _writable(product: Product) -> dict[str, Any]:
    """The product as a client would send it, the base a merge patch applies to."""
    return {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "price": {"amount": str(product.price_amount), "currency": product.price_currency},
        "status": product.status,
        "category": product.category,
        "tags": list(product.tags),
        "attributes": dict(product.attributes),
        "stock": product.stock,
    }


def _body(product: Product) -> dict[str, Any]:
    return ProductRead.from_product(product).model_dump(mode="python")
