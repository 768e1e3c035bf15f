"""Issue 24's tasks events through the real consumer: each notifies the people it concerns,
and a reposted task's conversations open for writing again."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from chore_common.contracts.tasks import (
    OfferDeclinedV1,
    OfferUpdatedV1,
    OfferWithdrawnV1,
    TaskEditedV1,
    TaskExpiredV1,
    TaskReopenedV1,
    TaskRepostedV1,
)
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer
from chore_messaging.domain.model import conversation_id

from .conftest import Issuer
from .test_notifications import at_least, eventually, offer, publish

pytestmark = pytest.mark.db


@pytest.fixture
def bus(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()  # its own server: the consumer's durable starts clean


async def test_offer_and_reopening_events_notify_the_people_they_concern(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, worker, rival = issuer.user("client"), issuer.user("tasker"), issuer.user("tasker")
    task_id, now, title = uuid4(), datetime.now(UTC), "Paint the fence"
    common = {"task_id": task_id, "owner_id": owner.id, "title": title}
    offer_id = uuid4()
    await publish(
        bus,
        OfferUpdatedV1(
            **common,
            offer_id=offer_id,
            tasker_id=rival.id,
            price_cents=900,
            version=2,
            updated_at=now,
        ),
    )
    await publish(
        bus, OfferDeclinedV1(**common, offer_id=offer_id, tasker_id=rival.id, declined_at=now)
    )
    await publish(
        bus,
        TaskReopenedV1(
            **common,
            by="assignee",
            reason="ill",
            former_assignee_id=worker.id,
            reopened_offer_tasker_ids=(rival.id,),
            version=4,
            reopened_at=now,
        ),
    )
    await publish(
        bus,
        TaskReopenedV1(
            **common,
            by="owner",
            reason="no show",
            former_assignee_id=rival.id,
            version=6,
            reopened_at=now,
        ),
    )
    await publish(
        bus,
        TaskEditedV1(
            **common,
            changes={"budget_cents": 5000},
            offerer_ids=(worker.id, rival.id),
            version=7,
            edited_at=now,
        ),
    )
    await publish(
        bus,
        OfferWithdrawnV1(
            **common, offer_id=offer_id, tasker_id=rival.id, version=3, withdrawn_at=now
        ),
    )
    expected = [
        (owner, ["offer_updated", "task_reopened", "offer_withdrawn"]),
        (rival, ["offer_declined", "task_reopened", "task_reopened", "task_edited"]),
        (worker, ["task_edited"]),
    ]
    for user, kinds in expected:
        body = await eventually(server, "/messaging/notifications", user, at_least(len(kinds)))
        assert sorted(n["kind"] for n in body["items"]) == sorted(kinds), user
    body = await eventually(server, "/messaging/notifications", owner, at_least(3))
    reopened = next(n for n in body["items"] if n["kind"] == "task_reopened")
    assert reopened["data"]["reason"] == "ill"
    assert reopened["data"]["by"] == "assignee"


async def test_a_reposted_task_opens_its_conversations_and_tells_its_taskers(
    bus: NatsServer, start_messaging: StartApp, issuer: Issuer
) -> None:
    server = await start_messaging(nats_url=bus.url, consumer_enabled=True)
    owner, tasker = issuer.user("client"), issuer.user("tasker")
    task_id, now, title = uuid4(), datetime.now(UTC), "Paint the fence"
    await publish(bus, offer(task_id, owner, tasker))
    await publish(
        bus,
        TaskExpiredV1(task_id=task_id, owner_id=owner.id, title=title, version=2, expired_at=now),
    )
    listed = await eventually(
        server, "/messaging/notifications", tasker, lambda b: len(b["items"]) == 1
    )
    assert listed["items"][0]["kind"] == "task_expired"
    url = f"/messaging/conversations/{conversation_id(task_id, tasker.id)}/messages"
    body = {"body": "still on?", "client_msg_id": "1"}
    assert (await server.post(url, json=body, headers=owner.headers)).status == 409
    due = now + timedelta(days=1)
    await publish(
        bus,
        TaskRepostedV1(
            task_id=task_id, owner_id=owner.id, title=title, due_at=due, version=3, reposted_at=now
        ),
    )
    listed = await eventually(
        server, "/messaging/notifications", tasker, lambda b: len(b["items"]) == 2
    )
    assert listed["items"][0]["kind"] == "task_reposted"
    assert (await server.post(url, json=body, headers=owner.headers)).status == 201
