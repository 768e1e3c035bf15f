"""Two-way, double-blind reviews over real HTTP, storage and JetStream: who may write, what
anyone sees of a user before and after both sides wrote, and the blind period's end."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from uuid import UUID, uuid4

import pytest

from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events

pytestmark = pytest.mark.db


async def completed_task(
    tasks: Client, issuer: Issuer, worker: User | None = None
) -> tuple[User, User, str]:
    """A task brought to `completed` by a new owner and its assignee; the one place that
    knows how (the lifecycle's moves to completion), so a change of those moves changes
    only this."""
    owner, worker = issuer.user("client"), worker or issuer.user("tasker")
    resp = await tasks.post(
        "/tasks",
        json={"title": "Fix the gate", "category": "handyman", "budget_cents": 4000},
        headers=owner.headers,
    )
    task_id = (await resp.json())["id"]
    resp = await tasks.post(
        f"/tasks/{task_id}/offers", json={"price_cents": 3500}, headers=worker.headers
    )
    offer_id = (await resp.json())["id"]
    for action, who, body in (
        ("assign", owner, {"offer_id": offer_id}),
        ("start", worker, None),
        ("complete", worker, None),
        ("confirm", owner, None),
    ):
        resp = await tasks.post(f"/tasks/{task_id}/{action}", json=body, headers=who.headers)
        assert resp.status == 200, await resp.text()
    assert (await resp.json())["status"] == "completed"
    return owner, worker, task_id


async def review(
    tasks: Client, task_id: str, who: User, rating: int, comment: str = ""
) -> tuple[int, dict[str, Any]]:
    resp = await tasks.post(
        f"/tasks/{task_id}/review",
        json={"rating": rating, "comment": comment},
        headers=who.headers,
    )
    return resp.status, dict(await resp.json())


async def reviews_of(tasks: Client, user: User, reader: User, **query: str) -> dict[str, Any]:
    resp = await tasks.get(f"/tasks/users/{user.id}/reviews", params=query, headers=reader.headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


async def rating_of(tasks: Client, user: User, reader: User) -> dict[str, Any]:
    resp = await tasks.get(f"/tasks/users/{user.id}/rating", headers=reader.headers)
    assert resp.status == 200, await resp.text()
    return dict(await resp.json())


NO_RATING = {"count": 0, "mean": None, "distribution": {str(n): 0 for n in range(1, 6)}}


async def test_both_sides_review_and_neither_review_shows_until_the_second(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, task_id = await completed_task(tasks, issuer)
    stranger = issuer.user("client")
    status, first = await review(tasks, task_id, owner, 5, "Quick and tidy")
    assert status == 201, first
    assert (first["author_id"], first["subject_id"], first["visible_at"]) == (
        str(owner.id),
        str(worker.id),
        None,
    )
    # Hidden from everyone, the reviewed side included, and from the summary.
    for reader in (stranger, worker, owner):
        page = await reviews_of(tasks, worker, reader)
        assert (page["items"], page["rating"]) == ([], NO_RATING)
        assert await rating_of(tasks, worker, reader) == NO_RATING

    status, second = await review(tasks, task_id, worker, 3, "Paid late")
    assert status == 201, second
    assert (second["subject_id"], second["visible_at"] is not None) == (str(owner.id), True)
    page = await reviews_of(tasks, worker, stranger)
    assert [(r["rating"], r["comment"]) for r in page["items"]] == [(5, "Quick and tidy")]
    assert page["rating"] == {
        "count": 1,
        "mean": 5.0,
        "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 1},
    }
    assert await rating_of(tasks, owner, stranger) == {
        "count": 1,
        "mean": 3.0,
        "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0},
    }

    events = await task_events(nats_server.url, UUID(task_id), count=10)
    events = [e for e in events if e.type.startswith("tasks.review.")]  # after the lifecycle's
    reviewed = [(e.type, e.version) for e in events]
    assert reviewed == [
        ("tasks.review.created", 1),
        ("tasks.review.created", 1),
        ("tasks.review.published", 1),
        ("tasks.review.published", 1),
    ]
    published = {e.data["subject_id"]: e.data for e in events[2:]}
    assert published[str(worker.id)]["rating"] == 5
    assert published[str(owner.id)]["title"] == "Fix the gate"
    assert events[1].data["author_id"] == str(worker.id)
    assert events[1].data["owner_id"] == str(owner.id)  # the task's sides, whoever wrote


async def test_only_the_two_sides_review_and_a_stranger_does_not_find_the_task(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker, task_id = await completed_task(tasks, issuer)
    status, body = await review(tasks, task_id, issuer.user("client"), 1)
    assert (status, body["code"]) == (404, "task_not_found")
    status, body = await review(tasks, task_id, issuer.user("admin"), 1)
    assert (status, body["code"]) == (403, "not_participant")
    status, body = await review(tasks, str(uuid4()), owner, 1)
    assert status == 404
    status, body = await review(tasks, task_id, owner, 6)
    assert status == 422
    resp = await tasks.get("/tasks/users/not-a-uuid/reviews", headers=owner.headers)
    assert (resp.status, (await resp.json())["code"]) == (404, "user_not_found")
    resp = await tasks.get(f"/tasks/users/{worker.id}/reviews")
    assert resp.status == 401
    # Nothing was written by any refused request.
    status, _ = await review(tasks, task_id, owner, 4)
    assert status == 201


async def test_a_tasker_who_offered_but_was_not_picked_may_not_review(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    loser = issuer.user("tasker")
    resp = await tasks.post(
        "/tasks",
        json={"title": "Move a sofa", "category": "moving", "budget_cents": 6000},
        headers=owner.headers,
    )
    task_id = (await resp.json())["id"]
    offers = []
    for tasker in (worker, loser):
        resp = await tasks.post(
            f"/tasks/{task_id}/offers", json={"price_cents": 5000}, headers=tasker.headers
        )
        offers.append((await resp.json())["id"])
    # Before completion: the state refuses (409), whoever asks.
    status, body = await review(tasks, task_id, owner, 5)
    assert (status, body["code"]) == (409, "not_completed")
    for action, who, body in (
        ("assign", owner, {"offer_id": offers[0]}),
        ("start", worker, None),
    ):
        await tasks.post(f"/tasks/{task_id}/{action}", json=body, headers=who.headers)
    status, body = await review(tasks, task_id, worker, 5)
    assert (status, body["code"]) == (409, "not_completed")
    await tasks.post(f"/tasks/{task_id}/complete", headers=worker.headers)
    status, body = await review(tasks, task_id, loser, 5)
    assert (status, body["code"]) == (403, "not_participant")


async def test_a_second_review_by_the_same_side_is_409_and_changes_nothing(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker, task_id = await completed_task(tasks, issuer)
    status, _ = await review(tasks, task_id, worker, 2)
    assert status == 201
    status, body = await review(tasks, task_id, worker, 5)
    assert (status, body["code"]) == (409, "already_reviewed")
    status, _ = await review(tasks, task_id, owner, 4)
    assert status == 201
    assert await rating_of(tasks, owner, worker) == {
        "count": 1,
        "mean": 2.0,
        "distribution": {"1": 0, "2": 1, "3": 0, "4": 0, "5": 0},
    }


async def test_a_lone_review_shows_when_the_blind_period_ends_and_closes_the_window(
    start_tasks: StartApp, issuer: Issuer, nats_server: NatsServer
) -> None:
    period_s = 3.0
    tasks = await start_tasks(review_blind_days=period_s / 86400)
    owner, worker, task_id = await completed_task(tasks, issuer)
    status, written = await review(tasks, task_id, owner, 4, "Good")
    assert (status, written["visible_at"]) == (201, None)
    reader = issuer.user("tasker")
    page = await reviews_of(tasks, worker, reader)
    assert page["items"] == []
    deadline = time.monotonic() + 30
    while not page["items"]:
        assert time.monotonic() < deadline, "the reveal job never showed the review"
        await asyncio.sleep(0.2)
        page = await reviews_of(tasks, worker, reader)
    [shown] = page["items"]
    assert (shown["id"], shown["rating"]) == (written["id"], 4)
    assert shown["visible_at"] >= written["reveal_at"]
    assert page["rating"]["count"] == 1
    status, body = await review(tasks, task_id, worker, 1)
    assert (status, body["code"]) == (409, "review_closed")
    events = await task_events(nats_server.url, UUID(task_id), count=8)
    assert [(e.type, e.version) for e in events if e.type.startswith("tasks.review.")] == [
        ("tasks.review.created", 1),
        ("tasks.review.published", 1),
    ]


async def test_a_users_reviews_page_newest_published_first_with_a_cursor(
    tasks: Client, issuer: Issuer
) -> None:
    worker = issuer.user("tasker")
    for rating in (1, 2, 3, 4, 5):
        owner, _, task_id = await completed_task(tasks, issuer, worker)
        await review(tasks, task_id, owner, rating)
        await review(tasks, task_id, worker, 5)
    reader = issuer.user("client")
    seen: list[int] = []
    cursor: str | None = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await reviews_of(tasks, worker, reader, **query)
        seen += [r["rating"] for r in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == [5, 4, 3, 2, 1]
    assert page["rating"] == {
        "count": 5,
        "mean": 3.0,
        "distribution": {str(n): 1 for n in range(1, 6)},
    }
    resp = await tasks.get(
        f"/tasks/users/{worker.id}/reviews", params={"cursor": "garbage"}, headers=reader.headers
    )
    assert (resp.status, (await resp.json())["code"]) == (422, "invalid_cursor")
