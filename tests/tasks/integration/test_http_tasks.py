"""Every row of SPEC.md's tasks table over real HTTP: what each user sees, and what is refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events

pytestmark = pytest.mark.db

DUE = (datetime.now(UTC) + timedelta(days=2)).isoformat()


async def post_task(tasks: Client, owner: User, **changes: Any) -> dict[str, Any]:
    body = {
        "title": "Hang three shelves",
        "description": "Plasterboard wall, shelves supplied",
        "category": "handyman",
        "budget_cents": 7500,
        **changes,
    }
    resp = await tasks.post("/tasks", json=body, headers=owner.headers)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def offer(tasks: Client, task_id: str, tasker: User, price: int = 7000) -> dict[str, Any]:
    resp = await tasks.post(
        f"/tasks/{task_id}/offers",
        json={"price_cents": price, "message": "Tomorrow morning?"},
        headers=tasker.headers,
    )
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def move(
    tasks: Client, task_id: str, action: str, who: User, body: Any = None, **headers: str
) -> tuple[int, dict[str, Any]]:
    resp = await tasks.post(
        f"/tasks/{task_id}/{action}", json=body, headers={**who.headers, **headers}
    )
    return resp.status, dict(await resp.json())


async def assigned(tasks: Client, issuer: Issuer) -> tuple[User, User, dict[str, Any]]:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    status, body = await move(tasks, task["id"], "assign", owner, {"offer_id": made["id"]})
    assert status == 200, body
    return owner, worker, body


async def test_a_client_posts_a_task_and_gets_it_back_open(tasks: Client, issuer: Issuer) -> None:
    owner = issuer.user("client")
    resp = await tasks.post(
        "/tasks",
        json={
            "title": "Walk Rex",
            "category": "pets",
            "budget_cents": 1500,
            "due_at": DUE,
            "location": {"lat": 50.83, "lon": -0.17, "address": "Hove"},
        },
        headers=owner.headers,
    )
    assert resp.status == 201
    task = await resp.json()
    assert task["status"] == "open"
    assert task["location"] == {"lat": 50.83, "lon": -0.17, "address": "Hove"}
    assert task["currency"] == "EUR"  # the platform's default
    assert task["owner_id"] == str(owner.id)
    assert task["version"] == 1
    assert resp.headers["ETag"] == '"1"'
    assert resp.headers["Location"] == f"/tasks/{task['id']}"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"title": "x", "category": "c", "budget_cents": 0}, 422),
        ({"title": "x", "category": "c", "budget_cents": "100"}, 422),
        ({"title": "", "category": "c", "budget_cents": 100}, 422),
        ({"title": "x", "category": "c", "budget_cents": 100, "colour": "red"}, 422),
        (
            {"title": "x", "category": "c", "budget_cents": 100, "due_at": "2020-01-01T00:00:00Z"},
            422,
        ),
        (
            {"title": "x", "category": "c", "budget_cents": 100, "due_at": "2099-01-01T00:00:00"},
            422,
        ),
        ({"title": "x", "category": "c", "budget_cents": 100, "currency": "eur"}, 422),
        ({"title": "x", "category": "c", "budget_cents": 100, "currency": "XYZ"}, 422),
        ({"title": "x", "category": "c", "budget_cents": 100, "location": "Hove"}, 422),
        (
            {"title": "x", "category": "c", "budget_cents": 100, "location": {"lat": 91, "lon": 0}},
            422,
        ),
        (
            {
                "title": "x",
                "category": "c",
                "budget_cents": 100,
                "location": {"lat": 0, "lon": 181},
            },
            422,
        ),
        ({"title": "x", "category": "c", "budget_cents": 100, "location": {"lat": 1}}, 422),
        (
            {
                "title": "x",
                "category": "c",
                "budget_cents": 100,
                "location": {"lat": "1", "lon": 2},
            },
            422,
        ),
    ],
)
async def test_a_bad_task_is_refused_with_422(
    tasks: Client, issuer: Issuer, body: dict[str, Any], status: int
) -> None:
    resp = await tasks.post("/tasks", json=body, headers=issuer.user("client").headers)
    assert resp.status == status
    assert resp.content_type == "application/problem+json"


async def test_a_tasker_cannot_post_a_task_and_nobody_posts_without_a_token(
    tasks: Client, issuer: Issuer
) -> None:
    body = {"title": "x", "category": "c", "budget_cents": 100}
    resp = await tasks.post("/tasks", json=body, headers=issuer.user("tasker").headers)
    assert resp.status == 403
    resp = await tasks.post("/tasks", json=body)
    assert resp.status == 401


async def test_reading_a_task_gives_an_etag_and_a_matching_if_none_match_gives_304(
    tasks: Client, issuer: Issuer
) -> None:
    task = await post_task(tasks, issuer.user("client"))
    reader = issuer.user("tasker")
    resp = await tasks.get(f"/tasks/{task['id']}", headers=reader.headers)
    assert resp.status == 200
    assert (await resp.json())["id"] == task["id"]
    etag = resp.headers["ETag"]
    resp = await tasks.get(
        f"/tasks/{task['id']}", headers={**reader.headers, "If-None-Match": etag}
    )
    assert resp.status == 304
    assert resp.headers["ETag"] == etag
    resp = await tasks.get(
        f"/tasks/{task['id']}", headers={**reader.headers, "If-None-Match": '"999"'}
    )
    assert resp.status == 200


async def test_unknown_and_malformed_task_ids_are_404(tasks: Client, issuer: Issuer) -> None:
    who = issuer.user("client")
    for task_id in (uuid4(), "not-a-uuid"):
        resp = await tasks.get(f"/tasks/{task_id}", headers=who.headers)
        assert resp.status == 404
        assert (await resp.json())["code"] == "task_not_found"


async def test_a_stranger_cannot_see_an_assigned_task_but_its_people_can(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker, task = await assigned(tasks, issuer)
    for who in (owner, worker):
        resp = await tasks.get(f"/tasks/{task['id']}", headers=who.headers)
        assert resp.status == 200
    for who in (issuer.user("client"), issuer.user("tasker")):
        resp = await tasks.get(f"/tasks/{task['id']}", headers=who.headers)
        assert resp.status == 404


async def test_browsing_filters_searches_and_pages_with_a_cursor(
    tasks: Client, issuer: Issuer
) -> None:
    owner = issuer.user("client")
    tag = uuid4().hex[:10]
    made = [await post_task(tasks, owner, title=f"Paint room {n} {tag}") for n in range(5)]
    await post_task(tasks, owner, title="Unrelated", category="garden")
    seen: list[str] = []
    cursor = None
    while True:
        params = {"q": tag.upper(), "limit": "2", **({"cursor": cursor} if cursor else {})}
        resp = await tasks.get("/tasks", params=params, headers=owner.headers)
        assert resp.status == 200
        page = await resp.json()
        seen += [t["id"] for t in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert sorted(seen) == sorted(t["id"] for t in made)
    assert len(seen) == 5
    resp = await tasks.get(
        "/tasks", params={"owner": "me", "category": "garden"}, headers=owner.headers
    )
    assert [t["title"] for t in (await resp.json())["items"]] == ["Unrelated"]


async def test_a_tampered_cursor_or_limit_is_422(tasks: Client, issuer: Issuer) -> None:
    who = issuer.user("client")
    for params in ({"cursor": "garbage!!"}, {"limit": "0"}, {"limit": "101"}, {"owner": "you"}):
        resp = await tasks.get("/tasks", params=params, headers=who.headers)
        assert resp.status == 422, params


async def test_browsing_mine_as_assignee_shows_what_i_was_given(
    tasks: Client, issuer: Issuer
) -> None:
    _owner, worker, task = await assigned(tasks, issuer)
    resp = await tasks.get("/tasks", params={"assignee": "me"}, headers=worker.headers)
    assert [t["id"] for t in (await resp.json())["items"]] == [task["id"]]


async def test_a_tasker_offers_once_and_the_owner_cannot_offer_at_all(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    assert (made["status"], made["tasker_id"], made["task_id"]) == (
        "open",
        str(worker.id),
        task["id"],
    )
    resp = await tasks.post(
        f"/tasks/{task['id']}/offers", json={"price_cents": 1}, headers=worker.headers
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "offer_exists"
    resp = await tasks.post(
        f"/tasks/{task['id']}/offers", json={"price_cents": 1}, headers=owner.headers
    )
    assert resp.status == 403


async def test_the_owner_sees_all_offers_and_a_tasker_only_their_own(
    tasks: Client, issuer: Issuer
) -> None:
    owner, me, other = issuer.user("client"), issuer.user("tasker"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    mine, theirs = await offer(tasks, task["id"], me), await offer(tasks, task["id"], other)

    async def listed(who: User) -> tuple[int, set[str]]:
        resp = await tasks.get(f"/tasks/{task['id']}/offers", headers=who.headers)
        body = await resp.json()
        return resp.status, {o["id"] for o in body.get("items", [])}

    assert await listed(owner) == (200, {mine["id"], theirs["id"]})
    assert await listed(me) == (200, {mine["id"]})
    assert await listed(issuer.user("tasker")) == (200, set())
    status, _ = await listed(issuer.user("client"))
    assert status == 403


async def test_the_owner_assigns_and_the_task_names_the_assignee(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    resp = await tasks.post(
        f"/tasks/{task['id']}/assign",
        json={"offer_id": made["id"]},
        headers={**owner.headers, "If-Match": '"1"'},
    )
    assert resp.status == 200
    body = await resp.json()
    assert (body["status"], body["assignee_id"], body["version"]) == (
        "assigned",
        str(worker.id),
        2,
    )
    assert resp.headers["ETag"] == '"2"'


async def test_client_b_cannot_assign_cancel_or_review_client_a_task(
    tasks: Client, issuer: Issuer
) -> None:
    owner, stranger, worker = issuer.user("client"), issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    status, body = await move(tasks, task["id"], "assign", stranger, {"offer_id": made["id"]})
    assert (status, body["code"]) == (403, "not_owner")
    status, _ = await move(tasks, task["id"], "cancel", stranger)
    assert status == 403
    await move(tasks, task["id"], "assign", owner, {"offer_id": made["id"]})
    await move(tasks, task["id"], "start", worker)
    await move(tasks, task["id"], "complete", worker)
    status, _ = await move(tasks, task["id"], "confirm", owner)
    assert status == 200
    # Completed tasks are private: to client B, A's task does not exist.
    status, _ = await move(tasks, task["id"], "review", stranger, {"rating": 1})
    assert status == 404
    status, _ = await move(tasks, task["id"], "cancel", stranger)
    assert status == 404


async def test_a_stale_if_match_is_412_and_changes_nothing(tasks: Client, issuer: Issuer) -> None:
    owner = issuer.user("client")
    task = await post_task(tasks, owner)
    status, body = await move(tasks, task["id"], "cancel", owner, None, **{"If-Match": '"7"'})
    assert (status, body["code"]) == (412, "version_mismatch")
    resp = await tasks.get(f"/tasks/{task['id']}", headers=owner.headers)
    assert (await resp.json())["status"] == "open"
    status, body = await move(tasks, task["id"], "cancel", owner, None, **{"If-Match": '"1"'})
    assert (status, body["status"]) == (200, "cancelled")


@pytest.mark.parametrize(
    ("path", "actor"),
    [
        ("start", "worker"),
        ("complete", "worker"),
        ("review", "owner"),
    ],
)
async def test_a_move_the_open_state_does_not_allow_is_409(
    tasks: Client, issuer: Issuer, path: str, actor: str
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    await offer(tasks, task["id"], worker)
    who = {"owner": owner, "worker": worker}[actor]
    body = {"rating": 5} if path == "review" else None
    status, problem = await move(tasks, task["id"], path, who, body)
    assert status == 409, problem


async def test_the_whole_lifecycle_and_every_illegal_move_on_the_way(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, task = await assigned(tasks, issuer)
    task_id = task["id"]
    # Assigned tasks are private: a newcomer cannot even find it to offer on.
    assert await offer_as_new_tasker(tasks, issuer, task_id) == 404
    status, body = await move(tasks, task_id, "complete", worker)
    assert (status, body["code"]) == (409, "invalid_transition")
    status, body = await move(tasks, task_id, "start", worker)
    assert (status, body["status"]) == (200, "in_progress")
    status, body = await move(tasks, task_id, "cancel", owner)
    assert (status, body["code"]) == (409, "invalid_transition")
    status, body = await move(tasks, task_id, "complete", worker)
    assert (status, body["status"], body["version"]) == (200, "done", 4)
    status, body = await move(tasks, task_id, "review", owner, {"rating": 5})
    assert (status, body["code"]) == (409, "not_completed")
    status, body = await move(tasks, task_id, "confirm", owner)
    assert (status, body["status"], body["version"]) == (200, "completed", 5)
    status, body = await move(tasks, task_id, "assign", owner, {"offer_id": str(uuid4())})
    assert status in (404, 409)
    status, review = await move(tasks, task_id, "review", owner, {"rating": 5, "comment": "Ace"})
    assert status == 201
    assert (review["rating"], review["subject_id"]) == (5, str(worker.id))
    status, body = await move(tasks, task_id, "review", owner, {"rating": 4})
    assert (status, body["code"]) == (409, "already_reviewed")
    events = await task_events(nats_server.url, UUID(task_id), count=7)
    assert [(e.type, e.version) for e in events] == [
        ("tasks.task.created", 1),
        ("tasks.offer.created", 1),
        ("tasks.task.assigned", 1),
        ("tasks.task.started", 1),
        ("tasks.task.done", 1),
        ("tasks.task.completed", 1),
        ("tasks.review.created", 1),
    ]
    assert all(e.producer == "tasks" for e in events)
    assert events[2].data["assignee_id"] == str(worker.id)


async def offer_as_new_tasker(tasks: Client, issuer: Issuer, task_id: str) -> int:
    resp = await tasks.post(
        f"/tasks/{task_id}/offers",
        json={"price_cents": 100},
        headers=issuer.user("tasker").headers,
    )
    return resp.status


async def test_cancel_takes_an_optional_reason_and_is_recorded(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner = issuer.user("client")
    task = await post_task(tasks, owner)
    status, body = await move(tasks, task["id"], "cancel", owner, {"reason": "Did it myself"})
    assert (status, body["status"], body["cancel_reason"]) == (
        200,
        "cancelled",
        "Did it myself",
    )
    events = await task_events(nats_server.url, UUID(task["id"]), count=2)
    assert [e.type for e in events] == ["tasks.task.created", "tasks.task.cancelled"]
    assert events[1].data["reason"] == "Did it myself"


async def test_only_the_assignee_starts_and_completes(tasks: Client, issuer: Issuer) -> None:
    owner, _worker, task = await assigned(tasks, issuer)
    status, _ = await move(tasks, task["id"], "start", issuer.user("tasker"))
    assert status == 404  # a stranger to an assigned task
    status, _ = await move(tasks, task["id"], "start", owner)
    assert status == 403  # wrong role for the route


async def test_of_50_concurrent_assigns_one_wins_and_one_event_is_published(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner = issuer.user("client")
    task = await post_task(tasks, owner)
    offers = [await offer(tasks, task["id"], issuer.user("tasker")) for _ in range(50)]
    statuses = await asyncio.gather(
        *(move(tasks, task["id"], "assign", owner, {"offer_id": o["id"]}) for o in offers)
    )
    codes = sorted(status for status, _ in statuses)
    assert codes == [200] + [409] * 49
    events = await task_events(nats_server.url, UUID(task["id"]), count=52, timeout_s=3)
    assert [e.type for e in events].count("tasks.task.assigned") == 1
