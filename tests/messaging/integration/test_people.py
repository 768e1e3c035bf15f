"""Issue 25's people in messaging: names come from auth's events and ratings and completed
tasks from tasks' events, on a real nats-server with no auth or tasks service running (so
nothing could be asked of them). The inbox's other participant and each notification's
person carry {id, name, rating_mean, rating_count, completed_count}; a profile edit shows
up; after deletion the other participant sees "Deleted user" and the messages stay."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import nats
import pytest

from chore_common.contracts.auth import ProfileUpdatedV1, UserDeletedV1, UserRegisteredV1
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import ReviewPublishedV1, TaskCompletedV1
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer
from chore_messaging.domain.model import conversation_id

from .conftest import Client, Issuer, User
from .test_notifications import offer

pytestmark = pytest.mark.db


@pytest.fixture
def bus(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()  # its own server: the consumers' durables start clean


async def publish(server: NatsServer, producer: str, *events: Contract) -> None:
    nc = await nats.connect(server.url)
    try:
        for event in events:
            envelope = Envelope.of(event, producer)
            await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
    finally:
        await nc.close()


async def until(client: Client, path: str, user: User, check: Callable[[Any], bool]) -> Any:
    """GET `path` until `check` holds (a generous deadline: the machine is loaded)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        body = await (await client.get(path, headers=user.headers)).json()
        if check(body) or asyncio.get_running_loop().time() > deadline:
            return body
        await asyncio.sleep(0.05)


def peer_named(name: str) -> Callable[[Any], bool]:
    return lambda body: bool(body["items"]) and body["items"][0]["peer"]["name"] == name


def registered(user: User, name: str) -> UserRegisteredV1:
    return UserRegisteredV1(
        user_id=user.id, role=user.role, name=name, registered_at=datetime.now(UTC)
    )


async def test_the_inbox_and_notifications_show_the_other_persons_name_and_record(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    app = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    await publish(bus, "auth", registered(owner, "Olivia"), registered(tasker, "Sam"))
    # Sam's record: one completed task, reviewed 5 stars by its owner.
    done, now = uuid4(), datetime.now(UTC)
    await publish(
        bus,
        "tasks",
        TaskCompletedV1(
            task_id=done,
            owner_id=owner.id,
            assignee_id=tasker.id,
            title="Fix the gate",
            version=5,
            completed_at=now,
        ),
        ReviewPublishedV1(
            review_id=uuid4(),
            task_id=done,
            title="Fix the gate",
            author_id=owner.id,
            subject_id=tasker.id,
            rating=5,
            created_at=now,
            published_at=now,
        ),
    )
    task_id = uuid4()
    await publish(bus, "tasks", offer(task_id, owner, tasker))
    sam = {
        "id": str(tasker.id),
        "name": "Sam",
        "rating_mean": 5.0,
        "rating_count": 1,
        "completed_count": 1,
    }
    inbox = await until(app, "/messaging/conversations", owner, lambda b: len(b["items"]) == 1)
    assert [c["peer"] for c in inbox["items"]] == [sam]
    theirs = await until(app, "/messaging/conversations", tasker, lambda b: len(b["items"]) == 1)
    assert theirs["items"][0]["peer"] == {
        "id": str(owner.id),
        "name": "Olivia",
        "rating_mean": None,
        "rating_count": 0,
        "completed_count": 1,
    }
    notes = await until(
        app,
        "/messaging/notifications",
        owner,
        lambda b: any(n["kind"] == "offer_created" for n in b["items"]),
    )
    offered = next(n for n in notes["items"] if n["kind"] == "offer_created")
    assert offered["person"] == sam

    # A profile edit shows in the inbox and the notifications, with no call to auth.
    profile = ProfileUpdatedV1(user_id=tasker.id, name="Sam B.", city="Leeds", skills=[])
    await publish(bus, "auth", profile)
    inbox = await until(app, "/messaging/conversations", owner, peer_named("Sam B."))
    assert inbox["items"][0]["peer"] == {**sam, "name": "Sam B."}
    notes = await (await app.get("/messaging/notifications", headers=owner.headers)).json()
    assert {n["person"]["name"] for n in notes["items"] if n["kind"] == "offer_created"} == {
        "Sam B."
    }


async def test_after_deletion_the_other_participant_sees_deleted_user_and_the_messages(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    app = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    task_id = uuid4()
    await publish(bus, "auth", registered(owner, "Olivia"), registered(tasker, "Sam"))
    await publish(bus, "tasks", offer(task_id, owner, tasker))
    await until(app, "/messaging/conversations", owner, peer_named("Sam"))
    conv = conversation_id(task_id, tasker.id)
    resp = await app.post(
        f"/messaging/conversations/{conv}/messages",
        json={"body": "I can come on Tuesday", "client_msg_id": "m1"},
        headers=tasker.headers,
    )
    assert resp.status == 201
    # The deleted tasker's own notifications and settings go with them.
    resp = await app.put(
        "/messaging/settings", json={"time_zone": "Europe/London"}, headers=tasker.headers
    )
    assert (resp.status, (await resp.json())["time_zone"]) == (200, "Europe/London")
    await publish(
        bus,
        "auth",
        UserDeletedV1(user_id=tasker.id, deleted_at=datetime.now(UTC)),
        ProfileUpdatedV1(user_id=tasker.id, name="Back again?", city="", skills=[]),
    )
    inbox = await until(app, "/messaging/conversations", owner, peer_named("Deleted user"))
    assert inbox["items"][0]["peer"]["name"] == "Deleted user"
    await asyncio.sleep(0.3)  # the late profile event is behind the deletion on the stream
    inbox = await (await app.get("/messaging/conversations", headers=owner.headers)).json()
    assert inbox["items"][0]["peer"]["name"] == "Deleted user"
    history = await (
        await app.get(f"/messaging/conversations/{conv}/messages", headers=owner.headers)
    ).json()
    assert [m["body"] for m in history["items"]] == ["I can come on Tuesday"]
    notes = await (await app.get("/messaging/notifications", headers=owner.headers)).json()
    assert {n["person"]["name"] for n in notes["items"]} == {"Deleted user"}
    # Their saved settings are gone: a stranger's defaults are what remains.
    left = await (await app.get("/messaging/settings", headers=tasker.headers)).json()
    fresh = issuer.user("tasker")
    assert left == await (await app.get("/messaging/settings", headers=fresh.headers)).json()
