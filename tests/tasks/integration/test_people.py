"""Issue 25's people in tasks: names and account statuses come from auth's events on a real
nats-server (no auth service runs here, so nothing could be asked of it); offers show the
tasker's name, rating and completed tasks; a ban hides the owner's open tasks from browse
and withdraws the tasker's open offers (their events published); deletion is final."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import nats
import pytest

from chore_common.contracts.auth import (
    ProfileUpdatedV1,
    StatusChangedV1,
    UserDeletedV1,
    UserRegisteredV1,
)
from chore_common.contracts.envelope import Envelope
from chore_common.contracts.registry import Contract
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events
from .test_http_reviews import completed_task, review
from .test_http_tasks import offer, post_task

pytestmark = pytest.mark.db


@pytest.fixture
def bus(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()  # its own server: the consumer's durable starts clean


async def publish(server: NatsServer, *events: Contract) -> None:
    nc = await nats.connect(server.url)
    try:
        for event in events:
            envelope = Envelope.of(event, "auth")
            await nc.jetstream().publish(envelope.subject, envelope.to_bytes())
    finally:
        await nc.close()


async def eventually(read: Callable[[], Awaitable[Any]], check: Callable[[Any], bool]) -> Any:
    """Poll `read` until `check` holds (generous deadline: the machine is loaded)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        found = await read()
        if check(found) or asyncio.get_running_loop().time() > deadline:
            return found
        await asyncio.sleep(0.05)


def profile(user: User, name: str) -> ProfileUpdatedV1:
    return ProfileUpdatedV1(user_id=user.id, name=name, city="Leeds", skills=["handyman"])


def status(user: User, word: str) -> StatusChangedV1:
    return StatusChangedV1(user_id=user.id, status=word, reason="spam")


async def offers_on(tasks: Client, task_id: str, who: User) -> list[dict[str, Any]]:
    resp = await tasks.get(f"/tasks/{task_id}/offers", headers=who.headers)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def browse_ids(tasks: Client, who: User) -> set[str]:
    resp = await tasks.get("/tasks", params={"limit": "100"}, headers=who.headers)
    assert resp.status == 200, await resp.text()
    return {t["id"] for t in (await resp.json())["items"]}


def tasker_name(offers: list[dict[str, Any]]) -> str | None:
    return offers[0]["tasker"]["name"] if offers else None


async def test_offers_show_the_taskers_name_rating_and_completed_tasks_from_events(
    bus: NatsServer, start_tasks: StartApp, issuer: Issuer
) -> None:
    tasks = await start_tasks(nats_url=bus.url, consumer_enabled=True)
    worker = issuer.user("tasker")
    # A record of their own in tasks: one completed task, reviewed 4 stars by its owner.
    owner, _, done_id = await completed_task(tasks, issuer, worker)
    assert (await review(tasks, done_id, owner, 4))[0] == 201
    assert (await review(tasks, done_id, worker, 5))[0] == 201
    client = issuer.user("client")
    task = await post_task(tasks, client)
    await offer(tasks, task["id"], worker)
    unknown = (await offers_on(tasks, task["id"], client))[0]["tasker"]
    assert unknown == {
        "id": str(worker.id),
        "name": None,
        "rating_mean": 4.0,
        "rating_count": 1,
        "completed_count": 1,
    }
    await publish(
        bus,
        UserRegisteredV1(
            user_id=worker.id, role="tasker", name="Sam", registered_at=datetime.now(UTC)
        ),
    )
    seen = await eventually(lambda: offers_on(tasks, task["id"], client), _named("Sam"))
    assert tasker_name(seen) == "Sam"
    # A profile edit reaches the list without a call to anyone.
    await publish(bus, profile(worker, "Sam the Handyman"))
    seen = await eventually(
        lambda: offers_on(tasks, task["id"], client), _named("Sam the Handyman")
    )
    assert seen[0]["tasker"] == {**unknown, "name": "Sam the Handyman"}


def _named(name: str) -> Callable[[list[dict[str, Any]]], bool]:
    return lambda offers: tasker_name(offers) == name


async def test_a_ban_hides_open_tasks_and_withdraws_open_offers_and_lifting_it_shows_them(
    bus: NatsServer, start_tasks: StartApp, issuer: Issuer
) -> None:
    tasks = await start_tasks(nats_url=bus.url, consumer_enabled=True)
    spammer, client, honest = issuer.user("client"), issuer.user("client"), issuer.user("tasker")
    hidden = await post_task(tasks, spammer)
    other = await post_task(tasks, client)
    bad_tasker = issuer.user("tasker")
    made = await offer(tasks, other["id"], bad_tasker)
    kept = await offer(tasks, other["id"], honest)
    assert {hidden["id"], other["id"]} <= await browse_ids(tasks, honest)

    await publish(bus, status(spammer, "banned"), status(bad_tasker, "suspended"))
    ids = await eventually(lambda: browse_ids(tasks, honest), lambda s: hidden["id"] not in s)
    assert hidden["id"] not in ids
    assert other["id"] in ids
    statuses = await eventually(
        lambda: offers_on(tasks, other["id"], client),
        lambda offers: {o["id"]: o["status"] for o in offers}[made["id"]] == "withdrawn",
    )
    assert {o["id"]: o["status"] for o in statuses} == {
        made["id"]: "withdrawn",
        kept["id"]: "open",
    }
    events = await task_events(bus.url, UUID(other["id"]), count=3)
    withdrawn = [e for e in events if e.type == "tasks.offer.withdrawn"]
    assert [(e.data["offer_id"], e.data["tasker_id"]) for e in withdrawn] == [
        (made["id"], str(bad_tasker.id))
    ]

    # Lifting the suspension: tasks show again; the withdrawn offer stays withdrawn.
    await publish(bus, status(bad_tasker, "active"), status(spammer, "active"))
    ids = await eventually(lambda: browse_ids(tasks, honest), lambda s: hidden["id"] in s)
    assert hidden["id"] in ids
    after = {o["id"]: o["status"] for o in await offers_on(tasks, other["id"], client)}
    assert after[made["id"]] == "withdrawn"


async def test_a_banned_owners_open_task_is_not_found_by_id_but_by_its_owner_and_admins(
    bus: NatsServer, start_tasks: StartApp, issuer: Issuer
) -> None:
    tasks = await start_tasks(nats_url=bus.url, consumer_enabled=True)
    spammer, stranger, admin = issuer.user("client"), issuer.user("tasker"), issuer.user("admin")
    hidden = await post_task(tasks, spammer)
    await tasks.get(f"/tasks/{hidden['id']}", headers=stranger.headers)  # now in the cache

    await publish(bus, status(spammer, "banned"))
    await eventually(lambda: browse_ids(tasks, stranger), lambda s: hidden["id"] not in s)
    missing = await tasks.get(f"/tasks/{uuid4()}", headers=stranger.headers)
    assert missing.status == 404
    not_found = await missing.json()
    read = await tasks.get(f"/tasks/{hidden['id']}", headers=stranger.headers)
    made = await tasks.post(
        f"/tasks/{hidden['id']}/offers", json={"price_cents": 7000}, headers=stranger.headers
    )
    # The same problem as a task that does not exist: nothing says it is there.
    for resp in (read, made):
        assert (resp.status, resp.content_type) == (404, "application/problem+json")
        body = await resp.json()
        assert (body["code"], body["title"]) == (not_found["code"], not_found["title"])
        assert body["code"] == "task_not_found"
    assert await offers_on(tasks, hidden["id"], spammer) == []
    for who in (spammer, admin):
        resp = await tasks.get(f"/tasks/{hidden['id']}", headers=who.headers)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["status"] == "open"

    # Lifted: the task is on the market again, by id too.
    await publish(bus, status(spammer, "active"))
    await eventually(lambda: browse_ids(tasks, stranger), lambda s: hidden["id"] in s)
    resp = await tasks.get(f"/tasks/{hidden['id']}", headers=stranger.headers)
    assert resp.status == 200, await resp.text()
    await offer(tasks, hidden["id"], stranger)


async def test_a_ban_hides_the_task_cached_on_another_replica(
    bus: NatsServer, start_tasks: StartApp, issuer: Issuer
) -> None:
    a = await start_tasks(nats_url=bus.url, consumer_enabled=True)  # applies auth's events
    b = await start_tasks(nats_url=bus.url)
    spammer, stranger = issuer.user("client"), issuer.user("tasker")
    task = await post_task(a, spammer)

    async def status_on_b() -> int:
        resp = await b.get(f"/tasks/{task['id']}", headers=stranger.headers)
        return resp.status

    assert [await status_on_b(), await status_on_b()] == [200, 200]  # task and status cached
    await publish(bus, status(spammer, "banned"))
    assert await eventually(status_on_b, lambda s: s == 404) == 404
    await publish(bus, status(spammer, "active"))
    assert await eventually(status_on_b, lambda s: s == 200) == 200


async def test_a_deleted_user_is_deleted_user_for_good_and_their_offers_are_withdrawn(
    bus: NatsServer, start_tasks: StartApp, issuer: Issuer
) -> None:
    tasks = await start_tasks(nats_url=bus.url, consumer_enabled=True)
    client, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, client)
    made = await offer(tasks, task["id"], worker)
    await publish(
        bus,
        profile(worker, "Sam"),
        UserDeletedV1(user_id=worker.id, deleted_at=datetime.now(UTC)),
        # Late news about a deleted account changes nothing.
        profile(worker, "Sam again"),
        status(worker, "active"),
    )
    seen = await eventually(
        lambda: offers_on(tasks, task["id"], client),
        lambda offers: offers[0]["status"] == "withdrawn",
    )
    await asyncio.sleep(0.3)  # the two late events are behind it on the stream
    seen = await offers_on(tasks, task["id"], client)
    assert (seen[0]["id"], seen[0]["status"]) == (made["id"], "withdrawn")
    assert seen[0]["tasker"]["name"] == "Deleted user"
