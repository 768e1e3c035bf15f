"""`Idempotency-Key` on tasks' creating POSTs over real HTTP: a retried POST /tasks, offer or
review gives the first response again and creates (and announces) nothing new."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_tasks.adapters.tables import OFFERS, OUTBOX, REVIEWS, TASKS

from .conftest import Client, Issuer, User
from .test_http_tasks import assigned, move, post_task

pytestmark = pytest.mark.db

TASK = {"title": "Mow the lawn", "category": "garden", "budget_cents": 4000}


async def count(engine: AsyncEngine, table: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def events(engine: AsyncEngine, subject: str) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.subject == subject)
        return int((await conn.execute(query)).scalar_one())


def keyed(user: User, key: str) -> dict[str, str]:
    return {**user.headers, "Idempotency-Key": key}


async def test_a_retried_post_tasks_returns_the_first_task_and_creates_one(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner = issuer.user("client")
    first = await tasks.post("/tasks", json=TASK, headers=keyed(owner, "task-1"))
    again = await tasks.post("/tasks", json=TASK, headers=keyed(owner, "task-1"))
    assert first.status == again.status == 201
    assert await again.json() == await first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(engine, TASKS) == 1
    assert await events(engine, "tasks.task.created") == 1


async def test_the_same_key_with_another_task_is_422(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner = issuer.user("client")
    await tasks.post("/tasks", json=TASK, headers=keyed(owner, "task-2"))
    other = await tasks.post(
        "/tasks", json={**TASK, "budget_cents": 9000}, headers=keyed(owner, "task-2")
    )
    assert other.status == 422
    assert (await other.json())["code"] == "idempotency_key_reused"
    assert await count(engine, TASKS) == 1


async def test_two_clients_with_the_same_key_each_get_their_own_task(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    one, two = issuer.user("client"), issuer.user("client")
    a = await (await tasks.post("/tasks", json=TASK, headers=keyed(one, "same"))).json()
    b = await (await tasks.post("/tasks", json=TASK, headers=keyed(two, "same"))).json()
    assert a["id"] != b["id"]
    assert (a["owner_id"], b["owner_id"]) == (str(one.id), str(two.id))
    assert await count(engine, TASKS) == 2


async def test_concurrent_posts_with_one_key_create_one_task(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner = issuer.user("client")
    replies = await asyncio.gather(
        *(tasks.post("/tasks", json=TASK, headers=keyed(owner, "race")) for _ in range(5))
    )
    assert [r.status for r in replies] == [201] * 5
    assert len({(await r.json())["id"] for r in replies}) == 1
    assert await count(engine, TASKS) == 1
    assert await events(engine, "tasks.task.created") == 1


async def test_a_retried_offer_returns_the_first_offer_and_one_event(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    body = {"price_cents": 3000, "message": "Saturday?"}
    path = f"/tasks/{task['id']}/offers"
    first = await tasks.post(path, json=body, headers=keyed(worker, "offer-1"))
    again = await tasks.post(path, json=body, headers=keyed(worker, "offer-1"))
    assert first.status == again.status == 201
    assert (await again.json())["id"] == (await first.json())["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await count(engine, OFFERS) == 1
    assert await events(engine, "tasks.offer.created") == 1


async def test_one_key_on_two_tasks_makes_two_offers(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    body = {"price_cents": 3000, "message": "Saturday?"}
    for _ in range(2):
        task = await post_task(tasks, owner)
        resp = await tasks.post(
            f"/tasks/{task['id']}/offers", json=body, headers=keyed(worker, "mine")
        )
        assert resp.status == 201
        assert "Idempotent-Replayed" not in resp.headers
    assert await count(engine, OFFERS) == 2


async def test_a_retried_review_returns_the_first_review(
    tasks: Client, issuer: Issuer, engine: AsyncEngine
) -> None:
    owner, worker, task = await assigned(tasks, issuer)
    for action, who in (("start", worker), ("complete", worker), ("confirm", owner)):
        status, _ = await move(tasks, task["id"], action, who)
        assert status == 200
    body = {"rating": 5, "comment": "Spotless"}
    path = f"/tasks/{task['id']}/review"
    first = await tasks.post(path, json=body, headers=keyed(owner, "review-1"))
    again = await tasks.post(path, json=body, headers=keyed(owner, "review-1"))
    assert first.status == again.status == 201
    assert await again.json() == await first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    without_key = await tasks.post(path, json=body, headers=owner.headers)
    assert without_key.status == 409  # a second review is still refused
    assert await count(engine, REVIEWS) == 1
    assert await events(engine, "tasks.review.created") == 1


async def test_the_openapi_document_offers_the_key_on_creating_posts_only(tasks: Client) -> None:
    paths = (await (await tasks.get("/openapi.json")).json())["paths"]

    def takes_key(path: str) -> bool:
        params = paths[path]["post"].get("parameters", [])
        return any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in params)

    creating = ["/tasks", "/tasks/{task_id}/offers", "/tasks/{task_id}/review"]
    assert all(takes_key(path) for path in creating)
    assert not takes_key("/tasks/{task_id}/assign")
