"""Reading feedback: filters, cursor pages, and the summary's numbers."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import update

from shelf.app import Container
from shelf.feedback.models import Feedback
from tests.conftest import Keys
from tests.integration.catalog.helpers import assert_problem
from tests.integration.feedback.helpers import FEEDBACK, new_product, submit


async def backdate(container: Container, feedback_id: str, when: datetime) -> None:
    async with container.database.engine.begin() as connection:
        await connection.execute(
            update(Feedback).where(Feedback.id == uuid.UUID(feedback_id)).values(created_at=when)
        )


async def ids(client: httpx.AsyncClient, keys: Keys, **params: object) -> list[str]:
    answer = await client.get(FEEDBACK, params=params, headers=keys.auth("viewer"))
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


async def test_filters_by_product_rating_status_date_and_words(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    scarf, hat = (await new_product(container))["id"], (await new_product(container))["id"]
    app = keys.auth("client")
    a = (await submit(client, app, product_id=scarf, rating=5, text="Lovely WOOL, 100% soft"))["id"]
    b = (await submit(client, app, product_id=scarf, rating=2, text="Too short"))["id"]
    c = (await submit(client, app, product_id=hat, rating=1, text="Itchy wool"))["id"]
    d = (await submit(client, app, rating=4, text="Fast delivery"))["id"]
    await backdate(container, a, datetime(2026, 1, 5, 10, tzinfo=UTC))
    await backdate(container, b, datetime(2026, 2, 5, 10, tzinfo=UTC))
    await backdate(container, c, datetime(2026, 3, 5, 10, tzinfo=UTC))
    await backdate(container, d, datetime(2026, 4, 5, 10, tzinfo=UTC))
    triaged = await client.patch(
        f"{FEEDBACK}/{b}", json={"status": "planned"}, headers=keys.auth("editor") | {"If-Match": '"1"'}
    )
    assert triaged.status_code == 200, triaged.text

    assert await ids(client, keys) == [d, c, b, a]  # newest first
    assert await ids(client, keys, product=scarf) == [b, a]
    assert await ids(client, keys, rating=1) == [c]
    assert await ids(client, keys, rating_min=2, rating_max=4) == [d, b]
    assert await ids(client, keys, rating_min=4) == [d, a]
    assert await ids(client, keys, status="planned") == [b]
    assert await ids(client, keys, status="new", product=scarf) == [a]
    assert await ids(client, keys, since="2026-02-05T10:00:00Z", until="2026-04-05T10:00:00Z") == [c, b]
    assert await ids(client, keys, since="2026-03-01T00:00:00+01:00") == [d, c]
    assert await ids(client, keys, q="wool") == [c, a]  # any case, in the text
    assert await ids(client, keys, q="100%") == [a]  # LIKE's wildcards are matched literally
    assert await ids(client, keys, q="_") == []

    for params in (
        {"rating": 0},
        {"rating": 6},
        {"rating": 3, "rating_min": 2},
        {"rating_min": 4, "rating_max": 2},
        {"since": "2026-03-01T00:00:00Z", "until": "2026-02-01T00:00:00Z"},
        {"status": "open"},
        {"product": "scarf"},
        {"limit": 101},
        {"sort": "rating"},
    ):
        refused = await client.get(FEEDBACK, params=params, headers=keys.auth("viewer"))
        assert assert_problem(refused, 422)["errors"], params


async def test_cursor_pages_walk_everything_once(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    created = [(await submit(client, keys.auth("client"), rating=1 + i % 5))["id"] for i in range(7)]
    moment = datetime(2026, 6, 1, tzinfo=UTC)
    for index, feedback_id in enumerate(created):  # two share a moment: the id breaks the tie
        await backdate(container, feedback_id, moment + timedelta(hours=min(index, 5)))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = (await client.get(FEEDBACK, params=params, headers=keys.auth("viewer"))).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    expected = sorted(created, key=lambda i: (min(created.index(i), 5), uuid.UUID(i)), reverse=True)
    assert seen == expected
    first = (await client.get(FEEDBACK, params={"limit": 3}, headers=keys.auth("viewer"))).json()
    reused = await client.get(
        FEEDBACK,
        params={"limit": 3, "rating": 2, "cursor": first["next_cursor"]},
        headers=keys.auth("viewer"),
    )
    assert [e["field"] for e in assert_problem(reused, 422)["errors"]] == ["cursor"]
    garbage = await client.get(FEEDBACK, params={"cursor": "bm9wZQ"}, headers=keys.auth("viewer"))
    assert_problem(garbage, 422)


async def test_the_summary_counts_averages_and_trends_exactly(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    scarf = (await new_product(container))["id"]
    other = (await new_product(container))["id"]
    ratings = [5, 4, 4, 1, 5, 3]
    created = [(await submit(client, keys.auth("client"), product_id=scarf, rating=r))["id"] for r in ratings]
    await submit(client, keys.auth("client"), product_id=other, rating=1)
    today = datetime.now(UTC)
    this_monday = today.date() - timedelta(days=today.weekday())
    # Two weeks ago: 5 and 4; last week: 4 and 1; this week: 5 and 3.
    for index, feedback_id in enumerate(created):
        weeks_ago = 2 - index // 2
        when = datetime.combine(this_monday - timedelta(weeks=weeks_ago), datetime.min.time(), tzinfo=UTC)
        await backdate(container, feedback_id, when + timedelta(hours=index))

    answer = await client.get(
        f"{FEEDBACK}/summary", params={"product": scarf, "weeks": 4}, headers=keys.auth("viewer")
    )
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert summary["product_id"] == scarf
    assert summary["count"] == 6
    assert summary["average"] == "3.67"  # 22 / 6 = 3.666..., half up
    assert summary["distribution"] == {"1": 1, "2": 0, "3": 1, "4": 2, "5": 2}
    weeks = [(date.fromisoformat(w["week_start"]), w["count"], w["average"]) for w in summary["trend"]]
    assert weeks == [
        (this_monday - timedelta(weeks=3), 0, None),
        (this_monday - timedelta(weeks=2), 2, "4.50"),
        (this_monday - timedelta(weeks=1), 2, "2.50"),
        (this_monday, 2, "4.00"),
    ]
    everything = (await client.get(f"{FEEDBACK}/summary", headers=keys.auth("viewer"))).json()
    assert everything["count"] == 7
    assert everything["average"] == "3.29"  # 23 / 7
    assert len(everything["trend"]) == 12
    nothing = (
        await client.get(
            f"{FEEDBACK}/summary", params={"product": str(uuid.uuid4())}, headers=keys.auth("viewer")
        )
    ).json()
    assert (nothing["count"], nothing["average"]) == (0, None)
    assert all(week["count"] == 0 for week in nothing["trend"])
    for params in ({"weeks": 0}, {"weeks": 105}, {"product": "x"}, {"from": "2026-01-01"}):
        assert_problem(
            await client.get(f"{FEEDBACK}/summary", params=params, headers=keys.auth("viewer")), 422
        )


async def test_reading_needs_a_staff_role(
    client: httpx.AsyncClient, container: Container, keys: Keys
) -> None:
    receipt = await submit(client, keys.auth("client"))
    for path in (FEEDBACK, f"{FEEDBACK}/summary", f"{FEEDBACK}/{receipt['id']}"):
        assert_problem(await client.get(path), 401)
        assert_problem(await client.get(path, headers=keys.auth("client")), 403)
    assert_problem(await client.get(f"{FEEDBACK}/{uuid.uuid4()}", headers=keys.auth("viewer")), 404)
