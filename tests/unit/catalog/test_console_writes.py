"""What the console's forms ask of the catalog: a bulk status change and a whole-product save."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shelf.catalog.errors import ProductNotFound, SelectionChanged
from shelf.catalog.service import MAX_SELECTION, CatalogService, Preconditions, Seen
from shelf.identity.permissions import ANONYMOUS, Principal, Role
from shelf.platform.cache import MemoryCache
from shelf.platform.errors import Forbidden, InvalidInput, PreconditionFailed, Unauthenticated
from tests.fakes import FakeClock, FakeReader, FakeUnitOfWork

EDITOR = Principal(kind="user", id=uuid.uuid4(), role=Role.EDITOR, name="editor@shelf.test")
VIEWER = Principal(kind="user", id=uuid.uuid4(), role=Role.VIEWER, name="viewer@shelf.test")


class RecordingEmitter:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def emit(self, event: str, distinct_id: str, properties: dict[str, Any]) -> None:
        self.events.append((event, properties))


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def emitter() -> RecordingEmitter:
    return RecordingEmitter()


@pytest.fixture
def cache() -> MemoryCache:
    return MemoryCache()


@pytest.fixture
def service(uow: FakeUnitOfWork, emitter: RecordingEmitter, cache: MemoryCache) -> CatalogService:
    return CatalogService(
        uow, FakeReader(uow), FakeClock(), cache=cache, idempotency_ttl=timedelta(hours=1), events=emitter
    )


async def _product(service: CatalogService, sku: str, status: str = "draft") -> Seen:
    payload = {"sku": sku, "name": f"Product {sku}", "price": {"amount": "5.00", "currency": "EUR"}}
    created = await service.create_product(EDITOR, payload | {"status": status})
    return Seen(created.product["id"], created.product["version"])


async def test_a_bulk_status_change_is_one_transaction_with_an_audit_entry_per_change(
    service: CatalogService, uow: FakeUnitOfWork, emitter: RecordingEmitter
) -> None:
    drafts = [await _product(service, f"D-{n}") for n in range(3)]
    already = await _product(service, "A-1", status="active")
    commits, entries, emitter.events = uow.commits, len(uow.audit.entries), []

    result = await service.change_status(EDITOR, [*drafts, already, drafts[0]], "active")

    assert (result.changed, result.unchanged) == (3, 1)
    assert uow.commits == commits + 1
    for seen in drafts:
        product = uow.products.rows[seen.product_id]
        assert (product.status, product.version) == ("active", 2)
    assert uow.products.rows[already.product_id].version == 1  # nothing to change, no new version
    new_entries = uow.audit.entries[entries:]
    assert [entry.action for entry in new_entries] == ["product.update"] * 3
    assert all(entry.before and entry.before["status"] == "draft" for entry in new_entries)
    assert all(entry.after and entry.after["status"] == "active" for entry in new_entries)
    assert all(entry.actor_name == "editor@shelf.test" for entry in new_entries)
    assert [event for event, _ in emitter.events] == ["product_updated"] * 3


async def test_nothing_changes_when_one_chosen_product_changed_meanwhile(
    service: CatalogService, uow: FakeUnitOfWork
) -> None:
    first, second = await _product(service, "S-1"), await _product(service, "S-2")
    await service.update_product(EDITOR, second.product_id, {"stock": 4}, Preconditions(['"1"']))
    commits, entries = uow.commits, len(uow.audit.entries)

    with pytest.raises(SelectionChanged) as refused:
        await service.change_status(EDITOR, [first, second], "archived")

    assert refused.value.changed == ["Product S-2"]
    assert "nothing was changed" in refused.value.detail
    assert isinstance(refused.value, PreconditionFailed)  # a 412 for API callers
    assert uow.products.rows[first.product_id].status == "draft"
    assert (uow.commits, len(uow.audit.entries)) == (commits, entries)


async def test_nothing_changes_when_one_chosen_product_was_deleted(
    service: CatalogService, uow: FakeUnitOfWork
) -> None:
    kept = await _product(service, "K-1")
    with pytest.raises(SelectionChanged) as refused:
        await service.change_status(EDITOR, [kept, Seen(uuid.uuid4(), 1)], "active")
    assert refused.value.missing == 1
    assert uow.products.rows[kept.product_id].status == "draft"


async def test_a_bulk_change_retires_what_the_cache_holds(
    service: CatalogService, cache: MemoryCache
) -> None:
    seen = await _product(service, "C-1", status="active")
    cached = await service.get_product(ANONYMOUS, seen.product_id)  # now in the cache
    assert cached[0]["status"] == "active"
    await service.change_status(EDITOR, [seen], "archived")
    with pytest.raises(ProductNotFound):  # archived: gone for the public, at once
        await service.get_product(ANONYMOUS, seen.product_id)


@pytest.mark.parametrize(("principal", "error"), [(ANONYMOUS, Unauthenticated), (VIEWER, Forbidden)])
async def test_only_writers_change_statuses(
    service: CatalogService, uow: FakeUnitOfWork, principal: Principal, error: type[Exception]
) -> None:
    seen = await _product(service, "P-1")
    with pytest.raises(error):
        await service.change_status(principal, [seen], "active")
    assert uow.products.rows[seen.product_id].status == "draft"


async def test_a_bulk_change_needs_a_status_and_a_bounded_selection(service: CatalogService) -> None:
    seen = await _product(service, "B-1")
    with pytest.raises(InvalidInput, match="is not a status"):
        await service.change_status(EDITOR, [seen], "deleted")
    with pytest.raises(InvalidInput, match="choose 1 to"):
        await service.change_status(EDITOR, [], "active")
    too_many = [Seen(uuid.uuid4(), 1) for _ in range(MAX_SELECTION + 1)]
    with pytest.raises(InvalidInput, match="choose 1 to"):
        await service.change_status(EDITOR, too_many, "active")


async def test_replace_sets_the_whole_product(service: CatalogService, uow: FakeUnitOfWork) -> None:
    created = await service.create_product(
        EDITOR,
        {
            "sku": "R-1",
            "name": "Lamp",
            "price": {"amount": "20.00", "currency": "EUR"},
            "category": "lighting",
            "attributes": {"watts": 40, "colour": "brass"},
        },
    )
    product_id = created.product["id"]
    form = {"sku": "R-1", "name": "Desk Lamp", "price": {"amount": "22.50", "currency": "EUR"}}
    body, etag = await service.replace_product(
        EDITOR, product_id, form | {"attributes": {"watts": 40}}, Preconditions(['"1"'])
    )
    assert etag == '"2"'
    assert body["name"] == "Desk Lamp"
    assert body["attributes"] == {"watts": 40}  # a merge patch would have kept the colour
    assert body["category"] is None  # left out: the default, not the old value
    assert uow.audit.entries[-1].before["attributes"] == {"watts": 40, "colour": "brass"}  # type: ignore[index]

    with pytest.raises(PreconditionFailed):  # saved at the version it was loaded at, or not at all
        await service.replace_product(EDITOR, product_id, form, Preconditions(['"1"']))
    with pytest.raises(ValidationError):
        await service.replace_product(
            EDITOR, product_id, form | {"price": {"amount": "x"}}, Preconditions(['"2"'])
        )
    with pytest.raises(Forbidden):
        await service.replace_product(VIEWER, product_id, form, Preconditions(['"2"']))
    assert uow.products.rows[product_id].name == "Desk Lamp"
