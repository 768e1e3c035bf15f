"""The scheduler end to end: a task posted over HTTP expires at its due time and an assignee
is reminded, each event arriving in JetStream with its contract version."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, task_events

pytestmark = pytest.mark.db


async def test_an_open_task_expires_at_its_due_time_and_readers_see_it(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner = issuer.user("client")
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    resp = await tasks.post(
        "/tasks",
        json={
            "title": "Rake leaves",
            "category": "garden",
            "budget_cents": 900,
            "due_at": due.isoformat(),
        },
        headers=owner.headers,
    )
    task_id = (await resp.json())["id"]
    resp = await tasks.get(f"/tasks/{task_id}", headers=owner.headers)  # cached while open
    assert (await resp.json())["status"] == "open"
    events = await task_events(nats_server.url, UUID(task_id), count=2, timeout_s=15)
    assert [(e.type, e.version) for e in events] == [
        ("tasks.task.created", 1),
        ("tasks.task.expired", 1),
    ]
    assert events[1].data["version"] == 2
    await asyncio.sleep(0.1)
    resp = await tasks.get(f"/tasks/{task_id}", headers=owner.headers)
    assert (await resp.json())["status"] == "expired"


async def test_an_assignee_is_reminded_when_assigned_inside_the_last_hour(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    due = datetime.now(UTC) + timedelta(minutes=30)
    resp = await tasks.post(
        "/tasks",
        json={
            "title": "Fix gate",
            "category": "handyman",
            "budget_cents": 900,
            "due_at": due.isoformat(),
        },
        headers=owner.headers,
    )
    task_id = (await resp.json())["id"]
    resp = await tasks.post(
        f"/tasks/{task_id}/offers", json={"price_cents": 800}, headers=worker.headers
    )
    offer_id = (await resp.json())["id"]
    resp = await tasks.post(
        f"/tasks/{task_id}/assign", json={"offer_id": offer_id}, headers=owner.headers
    )
    assert resp.status == 200
    events = await task_events(nats_server.url, UUID(task_id), count=4, timeout_s=15)
    reminder = events[-1]
    assert (reminder.type, reminder.version) == ("tasks.task.reminder_due", 1)
    assert reminder.data["assignee_id"] == str(worker.id)
    assert reminder.data["title"] == "Fix gate"
