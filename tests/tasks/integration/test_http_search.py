"""GET /tasks as a client sees it: filters, distance, full text, sorts and their cursors;
every bad parameter a 422; money in the task's currency, offers too."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events
from .test_http_tasks import post_task

pytestmark = pytest.mark.db

SOON = datetime.now(UTC) + timedelta(days=1)
BERLIN = {"lat": 52.52, "lon": 13.405}
POTSDAM = {"lat": 52.39, "lon": 13.065, "address": "Potsdam"}  # 27 km from Berlin
HAMBURG = {"lat": 53.551, "lon": 9.994}  # 255 km from Berlin


async def browse(tasks: Client, who: User, **params: Any) -> tuple[int, dict[str, Any]]:
    resp = await tasks.get("/tasks", params=params, headers=who.headers)
    return resp.status, dict(await resp.json())


async def every_page(tasks: Client, who: User, params: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    cursor = None
    while True:
        page_params = {**params, **({"cursor": cursor} if cursor else {})}
        status, page = await browse(tasks, who, **page_params)
        assert status == 200, page
        seen += [t["title"] for t in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            return seen


async def test_near_q_and_filters_find_the_right_tasks_in_each_sort(
    tasks: Client, issuer: Issuer
) -> None:
    owner = issuer.user("client")
    tag = "tag" + uuid4().hex[:8]  # letters and digits: one word, only in this test's tasks
    await post_task(
        tasks,
        owner,
        title=f"Paint fence {tag}",
        budget_cents=9000,
        location=BERLIN,
        due_at=(SOON + timedelta(hours=5)).isoformat(),
        category="painting",
    )
    await post_task(
        tasks,
        owner,
        title=f"Paint {tag} shed",
        description="fence too",
        budget_cents=3000,
        location=POTSDAM,
        due_at=SOON.isoformat(),
        category="painting",
    )
    await post_task(
        tasks,
        owner,
        title=f"Mow lawn {tag}",
        budget_cents=5000,
        location=HAMBURG,
        category="garden",
    )
    await post_task(tasks, owner, title=f"Walk dog {tag}", budget_cents=2000, category="pets")
    near = {"near": "52.52,13.405", "radius_km": "50"}
    by = {"q": tag, "limit": "1"}
    assert await every_page(tasks, owner, {**by, **near, "sort": "distance"}) == [
        f"Paint fence {tag}",
        f"Paint {tag} shed",
    ]
    assert await every_page(tasks, owner, {**by, "sort": "budget"}) == [
        f"Paint fence {tag}",
        f"Mow lawn {tag}",
        f"Paint {tag} shed",
        f"Walk dog {tag}",
    ]
    by_due = await every_page(tasks, owner, {**by, "sort": "due"})
    # Undated tasks come last, in id order among themselves.
    assert by_due[:2] == [f"Paint {tag} shed", f"Paint fence {tag}"]
    assert set(by_due[2:]) == {f"Mow lawn {tag}", f"Walk dog {tag}"}
    # The word in the title ranks above the word only in the description.
    assert await every_page(tasks, owner, {"q": f"{tag} fence", "sort": "relevance"}) == [
        f"Paint fence {tag}",
        f"Paint {tag} shed",
    ]
    status, page = await browse(
        tasks, owner, q=tag.upper(), category=["garden", "pets"], budget_min="2500"
    )
    assert status == 200
    assert [t["title"] for t in page["items"]] == [f"Mow lawn {tag}"]
    status, page = await browse(tasks, owner, q=f"{tag} shed", budget_max="3000", **near)
    assert [(t["title"], t["location"]) for t in page["items"]] == [(f"Paint {tag} shed", POTSDAM)]
    due_before = (SOON + timedelta(hours=1)).isoformat()
    status, page = await browse(tasks, owner, q=tag, due_before=due_before)
    assert [t["title"] for t in page["items"]] == [f"Paint {tag} shed"]


def tampered(cursor: str, **changes: Any) -> str:
    position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw = json.dumps({**position, **changes}).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"category": "x" * 65}, "validation_failed"),
        ({"budget_min": "-1"}, "validation_failed"),
        ({"budget_max": "ten"}, "validation_failed"),
        ({"budget_min": "500", "budget_max": "400"}, "bad_range"),
        ({"due_after": "tomorrow"}, "validation_failed"),
        ({"due_before": "2030-01-01T00:00:00"}, "validation_failed"),  # no zone
        ({"due_after": "2030-01-02T00:00:00Z", "due_before": "2030-01-01T00:00:00Z"}, "bad_range"),
        ({"near": "berlin"}, "validation_failed"),
        ({"near": "52.5"}, "validation_failed"),
        ({"near": "91,13"}, "bad_near"),
        ({"near": "52,-181"}, "bad_near"),
        ({"near": "52,13", "radius_km": "0"}, "validation_failed"),
        ({"near": "52,13", "radius_km": "501"}, "validation_failed"),
        ({"near": "52,13", "radius_km": "nan"}, "validation_failed"),
        ({"sort": "cheapest"}, "validation_failed"),
        ({"sort": "distance"}, "sort_needs_near"),
        ({"sort": "relevance"}, "sort_needs_q"),
        ({"q": "?!"}, "q_without_words"),
        ({"q": "a b c d e f g h i"}, "q_too_many_words"),
        ({"q": "x" * 201}, "validation_failed"),
    ],
)
async def test_each_bad_search_parameter_is_422_with_its_code(
    tasks: Client, issuer: Issuer, params: dict[str, str], code: str
) -> None:
    status, problem = await browse(tasks, issuer.user("tasker"), **params)
    assert (status, problem["code"]) == (422, code), problem


async def test_a_cursor_of_another_sort_or_with_a_tampered_key_is_422(
    tasks: Client, issuer: Issuer
) -> None:
    owner = issuer.user("client")
    for n in range(3):
        await post_task(tasks, owner, title=f"Chore {n}", location=BERLIN)
    status, page = await browse(tasks, owner, owner="me", sort="budget", limit="1")
    cursor = page["next_cursor"]
    assert status == 200
    assert cursor
    bad = [
        {"sort": "newest", "cursor": cursor},
        {"sort": "budget", "cursor": tampered(cursor, k="cheap")},
        {"sort": "budget", "cursor": tampered(cursor, k=True)},
        {"sort": "budget", "cursor": tampered(cursor, i=7)},
        {"sort": "distance", "near": "52,13", "cursor": tampered(cursor, s="distance", k=True)},
        {"sort": "budget", "cursor": tampered(cursor, s="price")},
        {"sort": "budget", "cursor": tampered(cursor, i="not-a-uuid")},
        {"sort": "due", "cursor": tampered(cursor, s="due", k="0000-13-01")},
        {"sort": "distance", "near": "52,13", "cursor": tampered(cursor, s="distance", k="1")},
    ]
    for params in bad:
        status, problem = await browse(tasks, owner, owner="me", limit="1", **params)
        assert (status, problem["code"]) == (422, "invalid_cursor"), params


async def test_a_task_is_in_the_posted_or_default_currency_and_so_are_its_offers(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner, currency="JPY", budget_cents=5000)
    assert (task["currency"], task["budget_cents"]) == ("JPY", 5000)
    resp = await tasks.post(
        f"/tasks/{task['id']}/offers",
        json={"price_cents": 4000, "currency": "EUR"},
        headers=worker.headers,
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "currency_mismatch")
    resp = await tasks.post(
        f"/tasks/{task['id']}/offers", json={"price_cents": 4000}, headers=worker.headers
    )
    assert resp.status == 201
    assert (await resp.json())["currency"] == "JPY"
    events = await task_events(nats_server.url, UUID(task["id"]), count=2)
    assert [(e.type, e.data["currency"]) for e in events] == [
        ("tasks.task.created", "JPY"),
        ("tasks.offer.created", "JPY"),
    ]
