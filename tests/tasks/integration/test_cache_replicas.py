"""Two replicas on one database and one NATS: once a change's response is back, plus 100 ms,
the other replica never serves the task's old version from its cache."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from chore_tasks.keys import TASK_CACHE

from .conftest import Client, Issuer, User

pytestmark = pytest.mark.db

SETTLE_S = 0.1


async def version_on(replica: Client, task_id: str, who: User) -> int:
    resp = await replica.get(f"/tasks/{task_id}", headers=who.headers)
    assert resp.status == 200, await resp.text()
    return int((await resp.json())["version"])


async def test_replica_b_never_serves_a_version_older_than_replica_a_just_wrote(
    start_tasks: Callable[..., Awaitable[Client]], issuer: Issuer
) -> None:
    a, b = await start_tasks(), await start_tasks()
    owner, worker = issuer.user("client"), issuer.user("tasker")
    checked = 0
    for _ in range(8):
        resp = await a.post(
            "/tasks",
            json={"title": "Mow", "category": "garden", "budget_cents": 2000},
            headers=owner.headers,
        )
        task: dict[str, Any] = await resp.json()
        task_id = task["id"]
        assert await version_on(b, task_id, owner) == 1  # now cached on B
        resp = await a.post(
            f"/tasks/{task_id}/offers", json={"price_cents": 1900}, headers=worker.headers
        )
        offer_id = (await resp.json())["id"]
        moves = [
            ("assign", owner, {"offer_id": offer_id}),
            ("start", worker, None),
            ("complete", worker, None),
            ("confirm", owner, None),
        ]
        for path, who, body in moves:
            assert await version_on(b, task_id, owner) == task["version"]  # warm B's cache
            resp = await a.post(f"/tasks/{task_id}/{path}", json=body, headers=who.headers)
            assert resp.status == 200, await resp.text()
            task = await resp.json()
            await asyncio.sleep(SETTLE_S)
            for _ in range(5):
                assert await version_on(b, task_id, owner) == task["version"]
                checked += 1
    assert checked == 8 * 4 * 5


async def test_a_cached_read_is_answered_without_the_database_and_with_its_etag(
    start_tasks: Callable[..., Awaitable[Client]], issuer: Issuer
) -> None:
    replica = await start_tasks()
    owner = issuer.user("client")
    resp = await replica.post(
        "/tasks",
        json={"title": "Mow", "category": "garden", "budget_cents": 2000},
        headers=owner.headers,
    )
    task_id = (await resp.json())["id"]
    first = await replica.get(f"/tasks/{task_id}", headers=owner.headers)
    cache = replica.app[TASK_CACHE]
    hits = cache.hits
    again = await replica.get(f"/tasks/{task_id}", headers=owner.headers)
    assert cache.hits == hits + 1
    assert again.headers["ETag"] == first.headers["ETag"] == '"1"'
    assert await again.json() == await first.json()
