"""Catalog use cases. Each one checks permissions, applies the rules and owns its transaction.

Reads are cache-aside (``platform.cache``): a product by id and every list or search page are kept
as the exact bytes of their JSON bodies, keyed by the caller's visibility ("public" sees active
products only, "staff" sees all), so a public key can never hold a draft. Every write forgets what
it affects once its transaction has committed, never before: a read running meanwhile could put
the old row back.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, Protocol

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from shelf.analytics.emitter import EventEmitter, NullEmitter
from shelf.audit.service import record
from shelf.catalog.errors import DuplicateSku, IdempotencyKeyReused, ProductNotFound, SelectionChanged
from shelf.catalog.models import Product, ProductStatus
from shelf.catalog.product_rows import ProductRow
from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductCreate, ProductPage, ProductRead, ProductWrite
from shelf.identity.permissions import Permission, Principal
from shelf.platform.cache import NOT_FOUND, Cache, SingleFlight
from shelf.platform.clock import Clock
from shelf.platform.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from shelf.platform.idempotency import IdempotencyRecord, request_fingerprint
from shelf.platform.ids import new_id
from shelf.platform.jsonutil import dumps, loads
from shelf.uow import UnitOfWork, UnitOfWorkFactory

MAX_SELECTION = 100  # products changed by one bulk action (a console page shows at most 100)


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


@dataclass(frozen=True)
class Seen:
    """A product as a caller last saw it: its id and version (what ``If-Match`` says for one)."""

    product_id: uuid.UUID
    version: int


@dataclass(frozen=True)
class StatusChanged:
    changed: int
    unchanged: int  # already in the status asked for


@dataclass(frozen=True)
class Representation:
    """A product or a page as it is sent: the exact bytes of its JSON body, and its ETag.

    ``public`` says whether it is what anyone may see (the "public" visibility), so that shared
    caches may keep it; a staff representation may show drafts and must stay private.
    """

    json: bytes
    etag: str
    public: bool


@dataclass(frozen=True)
class CacheTtls:
    product_seconds: float = 60
    page_seconds: float = 30
    not_found_seconds: float = 5


Visibility = Literal["public", "staff"]
VISIBILITIES: tuple[Visibility, ...] = ("public", "staff")
PAGES = "catalog:pages"  # one namespace for every list and search page: each write retires them all


def product_key(visibility: Visibility, product_id: uuid.UUID) -> str:
    return f"catalog:product:{visibility}:{product_id}"


class ProductReader(Protocol):
    """The read side: listing and search bypass the domain model (see ``catalog.queries``)."""

    async def page(self, query: ProductQuery, *, visible_all: bool) -> ProductPage: ...
    async def product(self, product_id: uuid.UUID) -> ProductRow | Product | None: ...


class CatalogService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reader: ProductReader,
        clock: Clock,
        *,
        cache: Cache,
        cache_ttls: CacheTtls | None = None,
        idempotency_ttl: timedelta = timedelta(hours=24),
        events: EventEmitter | None = None,
    ) -> None:
        self._uow = uow
        self._events = events or NullEmitter()  # server-side analytics events, after each commit
        self._clock = clock
        self._idempotency_ttl = idempotency_ttl
        self._reader = reader
        self._cache = cache
        self._ttls = cache_ttls or CacheTtls()
        self._flight = SingleFlight()
        # Counts the writes this process committed. A load that saw it change may have read the row
        # as it was before a write, so its result is returned but neither stored nor shared with
        # callers that arrive after the write (see ``_read_through``).
        self._writes = 0

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
                await self._forget(product.id)
                await self._emit("product_created", principal, product)
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
        found = await self.read_product(principal, product_id)
        return loads(found.json), found.etag

    async def read_product(self, principal: Principal, product_id: uuid.UUID) -> Representation:
        """The product as the caller may see it, from the cache when it holds it."""
        representation = await self._product(_visibility(principal), product_id)
        if representation is None:
            raise ProductNotFound
        return representation

    async def cached_public_product(self, product_id: uuid.UUID) -> Representation | None:
        """What anyone may see of the product, if the cache holds it; never a database read.

        For the gateway's fast path. ``None`` on a miss, for a cached "not found" (the normal path
        answers that 404) and whenever the cache is off or unavailable.
        """
        cached = await self._cache.get(product_key("public", product_id))
        return None if cached is None or cached == NOT_FOUND else _decode(cached, "public")

    async def _product(self, visibility: Visibility, product_id: uuid.UUID) -> Representation | None:
        async def load() -> bytes | None:
            product = await self._reader.product(product_id)
            if product is None or not (visibility == "staff" or product.status == ProductStatus.ACTIVE):
                return None  # cached briefly as "not found": a burst of 404s costs one read
            return _encode(etag_for(product.version), dumps(_body(product)).encode())

        cached = await self._read_through(
            product_key(visibility, product_id), load, self._ttls.product_seconds
        )
        return None if cached is None else _decode(cached, visibility)

    async def cached_public_page(self, query: ProductQuery) -> Representation | None:
        """The public list or search page for ``query``, if the cache holds it (for the fast path)."""
        cached = await self._cache.get(await self._page_key("public", query))
        return None if cached is None else _decode(cached, "public")

    async def update_product(
        self, principal: Principal, product_id: uuid.UUID, patch: Any, preconditions: Preconditions
    ) -> tuple[dict[str, Any], str]:
        principal.require(Permission.CATALOG_WRITE)
        if not isinstance(patch, dict):
            raise InvalidInput(
                "a merge patch must be a JSON object",
                [{"field": "body", "message": "expected a JSON object"}],
            )
        return await self._write(
            principal, product_id, preconditions, lambda current: merge_patch(current, patch)
        )

    async def replace_product(
        self, principal: Principal, product_id: uuid.UUID, payload: Any, preconditions: Preconditions
    ) -> tuple[dict[str, Any], str]:
        """The whole product as ``payload`` says (what the console's edit form sends): a field it
        leaves out takes its default, unlike a merge patch, which keeps what it does not name."""
        principal.require(Permission.CATALOG_WRITE)
        return await self._write(principal, product_id, preconditions, lambda _current: payload)

    async def _write(
        self,
        principal: Principal,
        product_id: uuid.UUID,
        preconditions: Preconditions,
        new_state: Callable[[dict[str, Any]], Any],
    ) -> tuple[dict[str, Any], str]:
        async with self._uow() as uow:
            product = await uow.products.get(product_id)
            if product is None:
                raise ProductNotFound
            preconditions.check(etag_for(product.version))
            current = ProductWrite.model_validate(_writable(product))
            updated = ProductWrite.model_validate(new_state(_writable(product)))
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
            await self._forget(product_id)
            await self._emit("product_updated", principal, product)
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
            await self._forget(product_id)
            await self._emit("product_deleted", principal, product)

    async def change_status(
        self, principal: Principal, selection: Sequence[Seen], status: ProductStatus | str
    ) -> StatusChanged:
        """Give every selected product ``status``, in one transaction, or none of them.

        Each product must still be at the version the caller saw (``Seen``): if any changed or was
        deleted meanwhile, nothing is written and ``SelectionChanged`` says which. Products already
        in ``status`` are left as they are (no new version, no audit entry). Each change is audited,
        forgotten by the cache and emitted like a single update.
        """
        principal.require(Permission.CATALOG_WRITE)
        try:
            target = ProductStatus(status)
        except ValueError:
            raise InvalidInput(
                f"'{status}' is not a status",
                [{"field": "status", "message": "must be draft, active or archived"}],
            ) from None
        seen = {item.product_id: item.version for item in selection}  # a product chosen twice counts once
        if not 1 <= len(seen) <= MAX_SELECTION:
            raise InvalidInput(
                f"choose 1 to {MAX_SELECTION} products",
                [{"field": "products", "message": f"choose 1 to {MAX_SELECTION} products"}],
            )
        async with self._uow() as uow:
            found = {product_id: await uow.products.get(product_id) for product_id in seen}
            products = [product for product in found.values() if product is not None]
            stale = [product.name for product in products if product.version != seen[product.id]]
            if stale or len(products) < len(seen):
                raise SelectionChanged(stale, len(seen) - len(products))
            changed = [product for product in products if product.status != target]
            for product in changed:
                before = _body(product)
                product.status = target.value
                product.updated_at = self._clock.now()
                product.version += 1
                record(
                    uow.audit,
                    self._clock,
                    principal,
                    "product.update",
                    entity=("product", product.id),
                    before=before,
                    after=_body(product),
                )
            if changed:
                try:
                    await uow.commit()
                except StaleDataError:
                    raise SelectionChanged([], 0) from None
        if changed:
            await self._forget(*(product.id for product in changed))
            for product in changed:
                await self._emit("product_updated", principal, product)
        return StatusChanged(changed=len(changed), unchanged=len(products) - len(changed))

    async def _emit(self, event: str, principal: Principal, product: Product) -> None:
        await self._events.emit(
            event,
            principal.scope,
            {
                "product_id": str(product.id),
                "sku": product.sku,
                "status": product.status,
                "version": product.version,
            },
        )

    async def list_products(self, principal: Principal, query: ProductQuery) -> ProductPage:
        return ProductPage.model_validate(loads((await self.read_page(principal, query)).json))

    async def read_page(self, principal: Principal, query: ProductQuery) -> Representation:
        """One list or search page as it is sent, from the cache when it holds it.

        Its ETag is a digest of the body: a page has no version of its own, and any change to any
        product on it (or to which products are on it) changes the bytes.
        """
        visibility = _visibility(principal)

        async def load() -> bytes:
            page = await self._reader.page(query, visible_all=visibility == "staff")
            body = dumps(page.model_dump(mode="python")).encode()
            return _encode(etag_of_bytes(body), body)

        key = await self._page_key(visibility, query)
        page = await self._read_through(key, load, self._ttls.page_seconds)
        if page is None:  # pragma: no cover - a page is never "not found"
            raise AssertionError("unreachable")
        return _decode(page, visibility)

    async def _page_key(self, visibility: Visibility, query: ProductQuery) -> str:
        return f"{await self._cache.scope(PAGES)}{visibility}:{query.cache_key()}"

    async def _read_through(
        self, key: str, load: Callable[[], Awaitable[bytes | None]], ttl_seconds: float
    ) -> bytes | None:
        """``platform.cache.read_through``, made safe against this process's own writes.

        A load that began before a write committed may return the old row: it is not stored, and
        callers arriving after the write start a load of their own instead of joining it (the
        flight key carries the write count). A write committed by another instance meanwhile can
        still be stored over (the race ``platform.cache`` documents); the TTL bounds it.
        """
        cached = await self._cache.get(key)
        if cached is not None:
            return None if cached == NOT_FOUND else cached
        writes = self._writes

        async def load_and_store() -> bytes | None:
            value = await load()
            if self._writes == writes:
                if value is None:
                    await self._cache.set(key, NOT_FOUND, self._ttls.not_found_seconds)
                else:
                    await self._cache.set(key, value, ttl_seconds)
            return value

        return await self._flight.run(f"{key}@{writes}", load_and_store)

    async def forget_products(self, product_ids: Sequence[uuid.UUID]) -> None:
        """For writers outside this service (bulk import): call after committing the products."""
        await self._forget(*product_ids)

    async def _forget(self, *product_ids: uuid.UUID) -> None:
        """After a commit: drop the products in both visibilities and retire every cached page."""
        self._writes += 1
        keys = [product_key(visibility, each) for each in product_ids for visibility in VISIBILITIES]
        await self._cache.delete(*keys)
        await self._cache.invalidate(PAGES)


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


def _visibility(principal: Principal) -> Visibility:
    return "staff" if principal.can(Permission.CATALOG_READ_ALL) else "public"


def etag_of_bytes(body: bytes) -> str:
    """A strong ETag for a body without a version: 128 bits of its BLAKE2b digest."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


# A cached product or page is its ETag, a newline, then its JSON body. An ETag holds no newline,
# and the leading quote keeps the value apart from ``NOT_FOUND``. Whether it is public is not
# stored: it follows from the visibility in the key it is stored under.
def _encode(etag: str, body: bytes) -> bytes:
    return etag.encode() + b"\n" + body


def _decode(cached: bytes, visibility: Visibility) -> Representation:
    etag, _, body = cached.partition(b"\n")
    return Representation(body, etag.decode(), public=visibility == "public")


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


def _body(product: Product | ProductRow) -> dict[str, Any]:
    return ProductRead.from_product(product).model_dump(mode="python")
