"""The feedback service on fakes: who may send, what is kept, honeypot, variants, triage rules."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shelf.catalog.models import Product
from shelf.feedback.errors import FeedbackNotFound, UnknownProduct
from shelf.feedback.service import FeedbackService, Visitor
from shelf.feedback.variants import FlagServiceVariants
from shelf.identity.permissions import ANONYMOUS, Principal, Role
from shelf.platform.errors import (
    Forbidden,
    InvalidInput,
    PreconditionFailed,
    PreconditionRequired,
    Unauthenticated,
)
from tests.fakes import FakeClock
from tests.unit.feedback.fakes import FakeEmitter, FakeReader, FakeVariants, FeedbackUnitOfWork

CLIENT = Principal(kind="api_key", id=uuid.uuid4(), role=Role.CLIENT, name="shop app")
EDITOR = Principal(kind="user", id=uuid.uuid4(), role=Role.EDITOR, name="eda@example.com")
VIEWER = Principal(kind="user", id=uuid.uuid4(), role=Role.VIEWER, name="vic@example.com")
ADMIN = Principal(kind="user", id=uuid.uuid4(), role=Role.ADMIN, name="ada@example.com")
VISITOR = Visitor("anon-0123456789abcdef0123456789abcdef")


class World:
    def __init__(self, variants: FakeVariants | None = None) -> None:
        self.uow = FeedbackUnitOfWork()
        self.clock = FakeClock()
        self.events = FakeEmitter()
        self.variants = variants or FakeVariants({"checkout": "green"})
        self.service = FeedbackService(
            self.uow,
            FakeReader(self.uow),  # type: ignore[arg-type]  # only what these tests read
            self.clock,
            variants=self.variants,
            events=self.events,
            email_retention=timedelta(days=30),
        )

    @property
    def rows(self) -> list[Any]:
        return list(self.uow.feedback.rows.values())

    def product(self, status: str = "active") -> uuid.UUID:
        product_id = uuid.uuid4()
        self.uow.products.rows[product_id] = Product(id=product_id, status=status, name="Scarf")
        return product_id


def app_payload(**overrides: Any) -> dict[str, Any]:
    return {"rating": 4, "text": "Good", "distinct_id": "user-1"} | overrides


async def test_a_visitor_is_who_the_cookie_says_with_the_providers_variants() -> None:
    world = World()
    payload = {
        "rating": 5,
        "text": "Nice",
        "distinct_id": "forged",
        "variants": {"x": "y"},
        "csrf_token": "t",
    }
    receipt = await world.service.submit_from_storefront(ANONYMOUS, VISITOR, payload, user_agent="Firefox")
    (row,) = world.rows
    assert row.id == receipt.id
    assert (row.distinct_id, row.variants, row.source) == (
        VISITOR.distinct_id,
        {"checkout": "green"},
        "storefront",
    )
    assert world.variants.asked == [VISITOR.distinct_id]
    assert row.submitted_by is None
    assert world.uow.commits == 1
    assert world.events.events == [
        (
            "feedback_submitted",
            VISITOR.distinct_id,
            {
                "feedback_id": str(row.id),
                "rating": 5,
                "product_id": None,
                "page": None,
                "source": "storefront",
                "variants": {"checkout": "green"},
                "$feature/checkout": "green",
            },
        )
    ]


async def test_an_app_names_the_person_and_its_variants_and_the_provider_is_not_asked() -> None:
    world = World()
    await world.service.submit_from_app(CLIENT, app_payload(variants={"nav": "b"}), user_agent=None)
    (row,) = world.rows
    assert (row.distinct_id, row.variants, row.source, row.submitted_by) == (
        "user-1",
        {"nav": "b"},
        "app",
        CLIENT.scope,
    )
    assert world.variants.asked == []


async def test_who_may_send() -> None:
    world = World()
    with pytest.raises(Unauthenticated):
        await world.service.submit_from_app(ANONYMOUS, app_payload(), user_agent=None)
    for principal in (CLIENT, VIEWER, EDITOR, ADMIN):
        await world.service.submit_from_app(principal, app_payload(), user_agent=None)
        await world.service.submit_from_storefront(principal, VISITOR, {"rating": 3}, user_agent=None)
    assert len(world.rows) == 8


async def test_a_filled_honeypot_is_answered_but_nothing_is_kept_or_recorded() -> None:
    world = World()
    receipt = await world.service.submit_from_storefront(
        ANONYMOUS, VISITOR, {"rating": 5, "website": "http://spam"}, user_agent=None
    )
    assert receipt.rating == 5
    assert receipt.id.version == 7
    assert world.rows == []
    assert world.uow.commits == 0
    assert world.events.events == []
    assert world.variants.asked == []
    # Whitespace is what an empty field holds for some browsers' autofill: that is a person.
    await world.service.submit_from_storefront(
        ANONYMOUS, VISITOR, {"rating": 5, "website": "  "}, user_agent=None
    )
    assert len(world.rows) == 1


async def test_a_failing_or_unruly_provider_never_loses_feedback() -> None:
    failing = World(FakeVariants(error=RuntimeError("flags are down")))
    await failing.service.submit_from_storefront(ANONYMOUS, VISITOR, {"rating": 2}, user_agent=None)
    assert [row.variants for row in failing.rows] == [{}]

    answer = {f"flag-{i:02d}": "on" for i in range(60)} | {"bad key": "on", "empty": "", "long": "v" * 101}
    unruly = World(FakeVariants(answer))
    await unruly.service.submit_from_storefront(ANONYMOUS, VISITOR, {"rating": 2}, user_agent=None)
    (row,) = unruly.rows
    assert row.variants == {f"flag-{i:02d}": "on" for i in range(50)}  # valid ones, bounded, by key


async def test_the_flag_service_adapter_asks_with_the_visitors_targeting_key() -> None:
    asked: list[dict[str, Any]] = []

    class Flags:
        async def variants_for(self, context: Any) -> dict[str, str]:
            asked.append(dict(context))
            return {"checkout": "blue"}

    assert await FlagServiceVariants(Flags()).for_visitor("anon-1") == {"checkout": "blue"}
    assert asked == [{"targetingKey": "anon-1"}]


async def test_a_visitor_who_asks_not_to_be_tracked_leaves_feedback_but_no_event() -> None:
    world = World()
    await world.service.submit_from_storefront(
        ANONYMOUS, Visitor(VISITOR.distinct_id, measured=False), {"rating": 1}, user_agent=None
    )
    assert len(world.rows) == 1
    assert world.events.events == []


async def test_the_product_must_exist_and_be_visible_to_the_submitter() -> None:
    world = World()
    active, draft = world.product(), world.product("draft")
    await world.service.submit_from_app(CLIENT, app_payload(product_id=str(active)), user_agent=None)
    for product_id in (uuid.uuid4(), draft):
        with pytest.raises(UnknownProduct):
            await world.service.submit_from_app(
                CLIENT, app_payload(product_id=str(product_id)), user_agent=None
            )
    await world.service.submit_from_app(EDITOR, app_payload(product_id=str(draft)), user_agent=None)
    assert [row.product_id for row in world.rows] == [active, draft]


async def test_invalid_bodies_store_nothing() -> None:
    world = World()
    with pytest.raises(InvalidInput):
        await world.service.submit_from_app(CLIENT, [1, 2], user_agent=None)
    with pytest.raises(ValidationError):
        await world.service.submit_from_app(CLIENT, app_payload(rating=9), user_agent=None)
    with pytest.raises(ValidationError):  # apps must name the person
        await world.service.submit_from_app(CLIENT, {"rating": 3}, user_agent=None)
    assert world.rows == []


async def test_expired_emails_are_erased_at_most_once_an_interval() -> None:
    world = World()
    await world.service.submit_from_app(CLIENT, app_payload(email="a@example.com"), user_agent=None)
    world.clock.moment += timedelta(days=31)
    await world.service.submit_from_app(CLIENT, app_payload(email="b@example.com"), user_agent=None)
    assert [row.email for row in world.rows] == [None, "b@example.com"]
    assert len(world.uow.feedback.erasures) == 2
    world.clock.moment += timedelta(minutes=30)
    await world.service.submit_from_app(CLIENT, app_payload(), user_agent=None)
    assert len(world.uow.feedback.erasures) == 2  # not again within the hour


async def test_triage_rules() -> None:
    world = World()
    receipt = await world.service.submit_from_app(CLIENT, app_payload(email="a@example.com"), user_agent=None)
    with pytest.raises(Forbidden):
        await world.service.triage(VIEWER, receipt.id, {"status": "done"}, ['"1"'])
    with pytest.raises(PreconditionRequired):
        await world.service.triage(EDITOR, receipt.id, {"status": "done"}, None)
    with pytest.raises(PreconditionFailed):
        await world.service.triage(EDITOR, receipt.id, {"status": "done"}, ['"2"'])
    with pytest.raises(FeedbackNotFound):
        await world.service.triage(EDITOR, uuid.uuid4(), {"status": "done"}, ['"1"'])
    with pytest.raises(ValidationError):
        await world.service.triage(EDITOR, receipt.id, {}, ['"1"'])

    read = await world.service.triage(
        EDITOR, receipt.id, {"status": "wont_do", "note": "Out of scope"}, ['"1"']
    )
    assert (read.status, read.note, read.version, read.triaged_by) == (
        "wont_do",
        "Out of scope",
        2,
        EDITOR.name,
    )
    assert read.email is None  # editors never see it
    assert read.has_email is True
    (entry,) = world.uow.audit.entries
    assert (entry.action, entry.entity_type, entry.entity_id) == (
        "feedback.triage",
        "feedback",
        str(receipt.id),
    )
    assert entry.before == {"status": "new", "note": "", "version": 1, "triaged_by": None}
    assert entry.after == {
        "status": "wont_do",
        "note": "Out of scope",
        "version": 2,
        "triaged_by": EDITOR.name,
    }

    # Nothing changes: no new version, no audit entry.
    same = await world.service.triage(ADMIN, receipt.id, {"note": "Out of scope"}, ['"2"', '"9"'])
    assert same.version == 2
    assert same.email == "a@example.com"  # admins read personal data
    assert len(world.uow.audit.entries) == 1


async def test_emails_are_shown_to_admins_only_and_only_within_retention() -> None:
    world = World()
    receipt = await world.service.submit_from_app(CLIENT, app_payload(email="a@example.com"), user_agent=None)
    assert (await world.service.get(ADMIN, receipt.id)).email == "a@example.com"
    assert (await world.service.get(VIEWER, receipt.id)).email is None
    world.clock.moment += timedelta(days=30, seconds=1)
    late = await world.service.get(ADMIN, receipt.id)
    assert (late.email, late.has_email) == (None, False)
    with pytest.raises(Forbidden):
        await world.service.get(CLIENT, receipt.id)
