"""Tasks events through the real consumer (its own nats-server): conversations open and
close, and notifications reach the online user as frames and the offline one over REST."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest

from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.contracts.tasks import (
    OfferCreatedV1,
    ReviewCreatedV1,
    ReviewPublishedV1,
    TaskAssignedV1,
    TaskCancelledV1,
    TaskCompletedV1,
    TaskDisputedV1,
    TaskDisputeResolvedV1,
    TaskDoneV1,
    TaskExpiredV1,
    TaskReminderDueV1,
    TaskStartedV1,
)
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer
from chore_messaging.domain.model import conversation_id

from .conftest import Client, Connect, Issuer, User

pytestmark = pytest.mark.db


@pytest.fixture
def bus(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    # Listed before start_messaging by the tests, so it stops after the replicas.
    return nats_factory()  # its own server: the consumer's durable starts clean


async def publish(
    server: NatsServer, event: Contract, *, envelope: Envelope | None = None
) -> Envelope:
    envelope = envelope or Envelope.of(event, "tasks")
    nc = await nats.connect(server.url)
    try:
        await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
    finally:
        await nc.close()
    return envelope


def offer(task_id: UUID, owner: User, tasker: User) -> OfferCreatedV1:
    return OfferCreatedV1(
        offer_id=uuid4(),
        task_id=task_id,
        owner_id=owner.id,
        tasker_id=tasker.id,
        title="Paint the fence",
        price_cents=12000,
        created_at=datetime.now(UTC),
    )


def at_least(count: int) -> Callable[[Any], bool]:
    return lambda body: len(body["items"]) >= count


async def eventually(client: Client, path: str, user: User, check: Callable[[Any], bool]) -> Any:
    for _ in range(100):
        body = await (await client.get(path, headers=user.headers)).json()
        if check(body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{path} never satisfied the check: {body}")


async def test_an_offer_notifies_the_online_owner_by_frame_and_the_offline_one_by_rest(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer, connect: Connect
) -> None:
    a = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    b = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    online, offline, tasker = issuer.user("client"), issuer.user("client"), issuer.user("tasker")
    sock = await connect(b, online)
    await sock.send({"type": "ping"})
    await sock.until("pong")

    task_id = uuid4()
    await publish(bus, offer(task_id, online, tasker))
    frame = await sock.until("notification", wait_s=10)
    assert frame["kind"] == "offer_created"
    assert frame["task_id"] == str(task_id)
    assert frame["title"] == "Paint the fence"
    assert frame["data"]["conversation_id"] == str(conversation_id(task_id, tasker.id))

    other_task = uuid4()
    await publish(bus, offer(other_task, offline, tasker))
    page = await eventually(
        a, "/messaging/notifications", offline, lambda body: len(body["items"]) == 1
    )
    note = page["items"][0]
    assert (note["kind"], note["task_id"], note["read_at"]) == (
        "offer_created",
        str(other_task),
        None,
    )
    # Both owners and the tasker now have the conversations, on either replica.
    mine = await (await a.get("/messaging/conversations", headers=tasker.headers)).json()
    assert {c["task_id"] for c in mine["items"]} == {str(task_id), str(other_task)}

    resp = await b.post(f"/messaging/notifications/{note['id']}/read", headers=offline.headers)
    assert resp.status == 200
    assert (await resp.json())["read_at"] is not None
    again = await b.post(f"/messaging/notifications/{note['id']}/read", headers=offline.headers)
    assert again.status == 200  # idempotent
    unread = await (
        await a.get("/messaging/notifications?unread=true", headers=offline.headers)
    ).json()
    assert unread["items"] == []
    # Not someone else's to read.
    stolen = await a.post(f"/messaging/notifications/{note['id']}/read", headers=online.headers)
    assert stolen.status == 404


async def test_a_redelivered_event_notifies_once(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    envelope = await publish(bus, offer(uuid4(), owner, tasker))
    await eventually(server, "/messaging/notifications", owner, lambda b: len(b["items"]) == 1)
    nc = await nats.connect(bus.url)
    try:  # the same event again, past JetStream's de-duplication (no Nats-Msg-Id)
        await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
        marker = await publish(bus, offer(uuid4(), owner, tasker))
    finally:
        await nc.close()
    body = await eventually(
        server, "/messaging/notifications", owner, lambda b: len(b["items"]) >= 2
    )
    await asyncio.sleep(0.2)
    body = await (await server.get("/messaging/notifications", headers=owner.headers)).json()
    assert len(body["items"]) == 2
    assert body["items"][0]["task_id"] == str(marker.data["task_id"])


async def test_cancelling_the_task_closes_the_conversation_for_writing(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer, connect: Connect
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    task_id = uuid4()
    cid = conversation_id(task_id, tasker.id)
    await publish(bus, offer(task_id, owner, tasker))
    await eventually(server, "/messaging/conversations", tasker, lambda b: len(b["items"]) == 1)
    sock = await connect(server, tasker)
    url = f"/messaging/conversations/{cid}/messages"
    resp = await server.post(
        url, json={"body": "when?", "client_msg_id": "1"}, headers=owner.headers
    )
    assert resp.status == 201

    await publish(
        bus,
        TaskCancelledV1(
            task_id=task_id,
            owner_id=owner.id,
            title="Paint the fence",
            reason="changed my mind",
            version=2,
            cancelled_at=datetime.now(UTC),
        ),
    )
    frame = await sock.until("notification", wait_s=10)
    assert frame["kind"] == "task_cancelled"
    # `person_id`: who it is about, to the tasker the owner.
    assert frame["data"] == {"reason": "changed my mind", "person_id": str(owner.id)}
    listed = await (await server.get("/messaging/conversations", headers=owner.headers)).json()
    assert listed["items"][0]["open"] is False
    resp = await server.post(
        url, json={"body": "still?", "client_msg_id": "2"}, headers=owner.headers
    )
    assert resp.status == 409
    assert (await resp.json())["code"] == "conversation_closed"
    await sock.send(
        {"type": "send", "conversation_id": str(cid), "body": "x", "client_msg_id": "3"}
    )
    assert (await sock.until("error"))["code"] == "conversation_closed"
    history = await (await server.get(url, headers=tasker.headers)).json()
    assert [m["body"] for m in history["items"]] == ["when?"]  # still readable


async def test_each_task_event_notifies_the_people_it_concerns(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker, other = issuer.user("client"), issuer.user("tasker"), issuer.user("tasker")
    task_id, now, title = uuid4(), datetime.now(UTC), "Paint the fence"
    common = {"task_id": task_id, "owner_id": owner.id, "title": title}
    await publish(bus, offer(task_id, owner, tasker))
    await publish(bus, offer(task_id, owner, other))
    await publish(
        bus,
        TaskAssignedV1(
            **common,
            assignee_id=tasker.id,
            offer_id=uuid4(),
            price_cents=100,
            version=2,
            assigned_at=now,
        ),
    )
    await publish(bus, TaskStartedV1(**common, assignee_id=tasker.id, version=3, started_at=now))
    await publish(bus, TaskReminderDueV1(**common, assignee_id=tasker.id, due_at=now))
    await publish(
        bus,
        TaskDoneV1(**common, assignee_id=tasker.id, version=4, done_at=now, auto_confirm_at=now),
    )
    await publish(
        bus, TaskCompletedV1(**common, assignee_id=tasker.id, version=5, completed_at=now)
    )
    # The owner who confirmed hears nothing of their own confirmation.
    expected = [
        (owner, ["task_done", "task_started", "offer_created", "offer_created"]),
        (tasker, ["task_completed", "reminder_due", "task_assigned"]),
    ]
    for user, kinds in expected:
        body = await eventually(server, "/messaging/notifications", user, at_least(len(kinds)))
        assert sorted(n["kind"] for n in body["items"]) == sorted(kinds)
    nothing = await (await server.get("/messaging/notifications", headers=other.headers)).json()
    assert nothing["items"] == []  # an offer that was not picked: no word until the end
    listed = await (await server.get("/messaging/conversations", headers=owner.headers)).json()
    assert [c["open"] for c in listed["items"]] == [False, False]

    # Expiry closes and tells the owner and every tasker who offered.
    later = uuid4()
    await publish(bus, offer(later, owner, other))
    await publish(
        bus, TaskExpiredV1(task_id=later, owner_id=owner.id, title=title, version=2, expired_at=now)
    )
    body = await eventually(
        server, "/messaging/notifications", other, lambda b: len(b["items"]) == 1
    )
    assert body["items"][0]["kind"] == "task_expired"


async def test_a_dispute_tells_the_assignee_and_its_resolution_tells_both_with_the_note(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    task_id, now, title = uuid4(), datetime.now(UTC), "Paint the fence"
    common = {"task_id": task_id, "owner_id": owner.id, "title": title, "assignee_id": tasker.id}
    await publish(bus, offer(task_id, owner, tasker))
    await publish(bus, TaskDisputedV1(**common, reason="Half done", version=5, disputed_at=now))
    body = await eventually(server, "/messaging/notifications", tasker, at_least(1))
    [note] = body["items"]
    assert (note["kind"], note["data"]) == (
        "task_disputed",
        {"reason": "Half done", "person_id": str(owner.id)},
    )

    await publish(
        bus,
        TaskDisputeResolvedV1(
            **common,
            outcome="completed",
            note="Photos show it finished",
            resolved_by=uuid4(),
            version=6,
            resolved_at=now,
        ),
    )
    # Completion by an admin: the resolution above already told both sides.
    await publish(
        bus,
        TaskCompletedV1(**common, version=6, completed_at=now, confirmed_by="admin"),
    )
    for user, other, count in ((owner, tasker, 2), (tasker, owner, 2)):
        body = await eventually(server, "/messaging/notifications", user, at_least(count))
        latest = body["items"][0]
        assert latest["kind"] == "dispute_resolved"
        assert latest["data"] == {
            "outcome": "completed",
            "note": "Photos show it finished",
            "person_id": str(other.id),
        }
    listed = await (await server.get("/messaging/conversations", headers=owner.headers)).json()
    assert [c["open"] for c in listed["items"]] == [False]

    # An auto-confirmed task tells both sides.
    later = uuid4()
    auto = {**common, "task_id": later}
    await publish(bus, TaskCompletedV1(**auto, version=5, completed_at=now, confirmed_by="auto"))
    for user, other in ((owner, tasker), (tasker, owner)):
        body = await eventually(
            server,
            "/messaging/notifications",
            user,
            lambda b: any(n["task_id"] == str(later) for n in b["items"]),
        )
        [note] = [n for n in body["items"] if n["task_id"] == str(later)]
        assert (note["kind"], note["data"]) == (
            "task_completed",
            {"confirmed_by": "auto", "person_id": str(other.id)},
        )
    # Nothing for the admin's completion of the disputed task (counted once it has been read).
    kinds = await (await server.get("/messaging/notifications", headers=tasker.headers)).json()
    assert sorted(n["kind"] for n in kinds["items"]) == [
        "dispute_resolved",
        "task_completed",
        "task_disputed",
    ]


async def test_a_published_review_notifies_the_reviewed_user_and_a_hidden_one_nobody(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    task_id, now = uuid4(), datetime.now(UTC)
    hidden, shown = uuid4(), uuid4()
    # Still hidden (double-blind): messaging must not tell anyone what it says.
    await publish(
        bus,
        ReviewCreatedV1(
            review_id=hidden,
            task_id=task_id,
            owner_id=owner.id,
            tasker_id=tasker.id,
            author_id=tasker.id,
            subject_id=owner.id,
            rating=2,
            created_at=now,
        ),
    )
    await publish(
        bus,
        ReviewPublishedV1(
            review_id=shown,
            task_id=task_id,
            title="Paint the fence",
            author_id=owner.id,
            subject_id=tasker.id,
            rating=5,
            comment="Spotless",
            created_at=now,
            published_at=now,
        ),
    )
    body = await eventually(server, "/messaging/notifications", tasker, at_least(1))
    [note] = body["items"]
    assert (note["kind"], note["task_id"], note["title"]) == (
        "review_visible",
        str(task_id),
        "Paint the fence",
    )
    assert note["data"] == {
        "review_id": str(shown),
        "author_id": str(owner.id),
        "rating": 5,
        "person_id": str(owner.id),
    }
    mine = await (await server.get("/messaging/notifications", headers=owner.headers)).json()
    assert mine["items"] == []
