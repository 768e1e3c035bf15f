"""GET /tasks/me/export over real HTTP and storage: the caller's tasks, offers, reviews and
disputes, nobody else's, and no review the blind still hides."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client, Issuer, User
from .test_http_reviews import completed_task, review

pytestmark = pytest.mark.db


async def export_of(tasks: Client, user: User) -> dict[str, Any]:
    resp = await tasks.get("/tasks/me/export", headers=user.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    return dict(await resp.json())


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def test_export_lists_the_callers_own_data_and_nobody_elses(
    tasks: Client, issuer: Issuer
) -> None:
    owner, worker, done_id = await completed_task(tasks, issuer)
    status, _ = await review(tasks, done_id, owner, 5, "Great work")
    assert status == 201
    # Someone else's task and offer on it: in neither export above.
    other = issuer.user("client")
    resp = await tasks.post(
        "/tasks",
        json={"title": "Walk the dog", "category": "pet_care", "budget_cents": 1500},
        headers=other.headers,
    )
    other_task = (await resp.json())["id"]
    resp = await tasks.post(
        f"/tasks/{other_task}/offers",
        json={"price_cents": 1200, "message": "I love dogs"},
        headers=worker.headers,
    )
    worker_offer = (await resp.json())["id"]

    mine = await export_of(tasks, owner)
    assert mine["service"] == "tasks"
    assert mine["user_id"] == str(owner.id)
    assert ids(mine["tasks"]) == [done_id]
    assert mine["tasks_assigned"] == []
    assert mine["offers"] == []
    assert mine["disputes"] == []
    assert [(r["rating"], r["comment"]) for r in mine["reviews_written"]] == [(5, "Great work")]
    assert mine["reviews_received"] == []

    theirs = await export_of(tasks, worker)
    assert theirs["tasks"] == []
    assert ids(theirs["tasks_assigned"]) == [done_id]
    assert [o["task_id"] for o in theirs["offers"]] == [done_id, other_task]
    assert theirs["offers"][1]["id"] == worker_offer
    assert theirs["offers"][1]["message"] == "I love dogs"
    # The owner's review is still hidden from the worker: not theirs to read yet.
    assert theirs["reviews_received"] == []
    assert theirs["reviews_written"] == []

    status, _ = await review(tasks, done_id, worker, 4, "Clear brief")
    assert status == 201
    theirs = await export_of(tasks, worker)
    assert [r["comment"] for r in theirs["reviews_received"]] == ["Great work"]
    assert [r["comment"] for r in theirs["reviews_written"]] == ["Clear brief"]

    stranger = await export_of(tasks, other)
    assert ids(stranger["tasks"]) == [other_task]
    assert stranger["offers"] == []


async def test_export_needs_a_token(tasks: Client) -> None:
    resp = await tasks.get("/tasks/me/export")
    assert resp.status == 401
