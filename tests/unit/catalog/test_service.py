"""The catalog service on fakes: rules, permissions and transactions, no database."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shelf.catalog.errors import DuplicateSku, IdempotencyKeyReused, ProductNotFound
from shelf.catalog.queries import ProductQuery
from shelf.catalog.service import CatalogService, Preconditions, merge_patch
from shelf.identity.permissions import ANONYMOUS, Principal, Role
from shelf.platform.cache import NullCache
from shelf.platform.errors import (
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    Unauthenticated,
)
from tests.fakes import FakeClock, FakeReader, FakeUnitOfWork

EDITOR = Principal(kind="api_key", id=uuid.uuid4(), role=Role.EDITOR, name="editor")
OTHER_EDITOR = Principal(kind="api_key", id=uuid.uuid4(), role=Role.EDITOR, name="editor 2")
VIEWER = Principal(kind="api_key", id=uuid.uuid4(), role=Role.VIEWER, name="viewer")
CLIENT = Principal(kind="api_key", id=uuid.uuid4(), role=Role.CLIENT, name="client")


def payload(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sku": "MUG-1",
        "name": "Stoneware Mug",
        "price": {"amount": "14.50", "currency": "EUR"},
        "status": "active",
    }
    return base | overrides


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(uow: FakeUnitOfWork, clock: FakeClock) -> CatalogService:
    return CatalogService(uow, FakeReader(uow), clock, cache=NullCache(), idempotency_ttl=timedelta(hours=24))


async def test_create_stores_a_validated_product_and_commits(
    service: CatalogService, uow: FakeUnitOfWork
) -> None:
    created = await service.create_product(EDITOR, payload(name="  Stoneware Mug "))
    assert created.etag == '"1"'
    assert not created.replayed
    stored = uow.products.rows[created.product["id"]]
    assert stored.name == "Stoneware Mug"
    assert str(stored.price_amount) == "14.50"
    assert stored.version == 1
    assert stored.created_at.tzinfo is not None
    assert uow.commits == 1


@pytest.mark.parametrize(
    ("principal", "error"), [(ANONYMOUS, Unauthenticated), (CLIENT, Forbidden), (VIEWER, Forbidden)]
)
async def test_only_writers_create(
    service: CatalogService, uow: FakeUnitOfWork, principal: Principal, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await service.create_product(principal, payload())
    assert uow.products.rows == {}


async def test_invalid_payload_raises_before_any_write(service: CatalogService, uow: FakeUnitOfWork) -> None:
    with pytest.raises(ValidationError):
        await service.create_product(EDITOR, payload(price={"amount": "-1", "currency": "EUR"}))
    assert uow.products.rows == {}
    assert uow.commits == 0


async def test_duplicate_sku(service: CatalogService, uow: FakeUnitOfWork) -> None:
    await service.create_product(EDITOR, payload())
    with pytest.raises(DuplicateSku):
        await service.create_product(EDITOR, payload(name="Another"))
    assert len(uow.products.rows) == 1


async def test_idempotent_create_replays_and_detects_reuse(
    service: CatalogService, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    first = await service.create_product(EDITOR, payload(), idempotency_key="k")
    again = await service.create_product(EDITOR, payload(), idempotency_key="k")
    assert again.replayed
    assert again.product == first.product
    assert len(uow.products.rows) == 1
    with pytest.raises(IdempotencyKeyReused):
        await service.create_product(EDITOR, payload(sku="MUG-2"), idempotency_key="k")
    other = await service.create_product(OTHER_EDITOR, payload(sku="MUG-3"), idempotency_key="k")
    assert not other.replayed


async def test_idempotency_keys_expire(
    service: CatalogService, uow: FakeUnitOfWork, clock: FakeClock
) -> None:
    await service.create_product(EDITOR, payload(), idempotency_key="k")
    clock.moment += timedelta(hours=24, seconds=1)
    with pytest.raises(DuplicateSku):  # the key is forgotten, so this is a fresh create
        await service.create_product(EDITOR, payload(), idempotency_key="k")


async def test_drafts_are_invisible_to_anonymous_and_clients(service: CatalogService) -> None:
    created = await service.create_product(EDITOR, payload(status="draft"))
    product_id = created.product["id"]
    for principal in (ANONYMOUS, CLIENT):
        with pytest.raises(ProductNotFound):
            await service.get_product(principal, product_id)
    body, etag = await service.get_product(VIEWER, product_id)
    assert body["status"] == "draft"
    assert etag == '"1"'
    public = await service.list_products(ANONYMOUS, ProductQuery())
    assert public.items == []
    staff = await service.list_products(VIEWER, ProductQuery())
    assert len(staff.items) == 1


async def test_update_requires_a_current_etag(service: CatalogService, uow: FakeUnitOfWork) -> None:
    product_id = (await service.create_product(EDITOR, payload())).product["id"]
    with pytest.raises(PreconditionRequired):
        await service.update_product(EDITOR, product_id, {"stock": 1}, Preconditions(None))
    body, etag = await service.update_product(EDITOR, product_id, {"stock": 1}, Preconditions(['"1"']))
    assert (body["version"], etag, body["stock"]) == (2, '"2"', 1)
    with pytest.raises(PreconditionFailed):
        await service.update_product(EDITOR, product_id, {"stock": 2}, Preconditions(['"1"']))
    assert uow.products.rows[product_id].stock == 1


async def test_update_revalidates_the_merged_product(service: CatalogService) -> None:
    product_id = (await service.create_product(EDITOR, payload())).product["id"]
    with pytest.raises(ValidationError):
        await service.update_product(EDITOR, product_id, {"price": {"currency": "JPY"}}, Preconditions(["*"]))
    with pytest.raises(InvalidInput):
        await service.update_product(EDITOR, product_id, ["not", "an", "object"], Preconditions(["*"]))


async def test_update_refuses_a_taken_sku(service: CatalogService) -> None:
    await service.create_product(EDITOR, payload(sku="TAKEN"))
    product_id = (await service.create_product(EDITOR, payload(sku="FREE"))).product["id"]
    with pytest.raises(DuplicateSku):
        await service.update_product(EDITOR, product_id, {"sku": "TAKEN"}, Preconditions(["*"]))


async def test_delete(service: CatalogService, uow: FakeUnitOfWork) -> None:
    product_id = (await service.create_product(EDITOR, payload())).product["id"]
    with pytest.raises(Forbidden):
        await service.delete_product(VIEWER, product_id, Preconditions(["*"]))
    with pytest.raises(PreconditionFailed):
        await service.delete_product(EDITOR, product_id, Preconditions(['"9"']))
    await service.delete_product(EDITOR, product_id, Preconditions(['"1"']))
    assert uow.products.rows == {}
    with pytest.raises(ProductNotFound):
        await service.delete_product(EDITOR, product_id, Preconditions(["*"]))


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [  # the examples of RFC 7386, appendix A
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result
