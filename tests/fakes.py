"""In-memory stand-ins for the unit of work and repositories, for service-layer unit tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

from shelf.audit.models import AuditEntry
from shelf.catalog.models import Product
from shelf.catalog.queries import ProductQuery
from shelf.catalog.schemas import ProductPage, ProductRead
from shelf.identity.models import ApiKey, User
from shelf.platform.idempotency import IdempotencyRecord


class FakeClock:
    def __init__(self) -> None:
        self.moment = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        self.moment += timedelta(milliseconds=1)
        return self.moment


class FakeProducts:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, Product] = {}

    async def get(self, product_id: uuid.UUID) -> Product | None:
        return self.rows.get(product_id)

    async def sku_taken(self, sku: str, *, other_than: uuid.UUID | None = None) -> bool:
        return any(p.sku == sku and p.id != other_than for p in self.rows.values())

    async def add(self, product: Product) -> None:
        self.rows[product.id] = product

    async def replace_tags(self, product: Product, tags: list[str]) -> None:
        product.tags = tags

    async def delete(self, product: Product) -> None:
        del self.rows[product.id]


class FakeIdempotency:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], IdempotencyRecord] = {}

    async def get(self, scope: str, key: str, now: datetime) -> IdempotencyRecord | None:
        record = self.rows.get((scope, key))
        if record is not None and record.expires_at <= now:
            del self.rows[(scope, key)]
            return None
        return record

    def add(self, record: IdempotencyRecord) -> None:
        self.rows[(record.scope, record.key)] = record

    async def purge_expired(self, now: datetime) -> None:
        self.rows = {k: r for k, r in self.rows.items() if r.expires_at > now}


class FakeUsers:
    def __init__(self) -> None:
        self.rows: list[User] = []

    async def get_by_email(self, email_normalized: str) -> User | None:
        return next((u for u in self.rows if u.email_normalized == email_normalized), None)

    def add(self, user: User) -> None:
        self.rows.append(user)


class FakeApiKeys:
    def __init__(self) -> None:
        self.rows: list[ApiKey] = []

    async def get_by_hash(self, secret_hash: str) -> ApiKey | None:
        return next((k for k in self.rows if k.secret_hash == secret_hash), None)

    def add(self, key: ApiKey) -> None:
        self.rows.append(key)


class FakeAudit:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)


class FakeLogins:
    """Not used by the catalog service; identity is tested against the real database."""


class FakeUnitOfWork:
    """Shares its repositories across transactions (they are the "database") and records commits.

    Writes made before a missing commit are not undone: tests assert on ``commits`` instead.
    """

    def __init__(self) -> None:
        self.products = FakeProducts()
        self.idempotency = FakeIdempotency()
        self.users = FakeUsers()
        self.api_keys = FakeApiKeys()
        self.logins = FakeLogins()
        self.audit = FakeAudit()
        self.commits = 0

    def __call__(self) -> Self:
        return self

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def commit(self) -> None:
        self.commits += 1

    async def rollback(self) -> None:
        return None


class FakeReader:
    """Enough of the read side for the service's visibility rule: filters by status only."""

    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def product(self, product_id: uuid.UUID) -> Product | None:
        return self._uow.products.rows.get(product_id)

    async def page(self, query: ProductQuery, *, visible_all: bool) -> ProductPage:
        rows = [
            p
            for p in self._uow.products.rows.values()
            if (visible_all or p.status == "active") and (query.status is None or p.status == query.status)
        ]
        return ProductPage(items=[ProductRead.from_product(p) for p in rows], next_cursor=None)
