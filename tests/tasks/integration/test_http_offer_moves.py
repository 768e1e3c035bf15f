"""Issue 24's offer and reopening moves over real HTTP, on SQLite and PostgreSQL: the happy
path, 403/404 for the wrong user, 409 for the wrong state, 412 for a stale If-Match, and
each move's event arriving in JetStream with its contract version."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events
from .test_http_tasks import move, offer, post_task

pytestmark = pytest.mark.db


async def patch(
    tasks: Client, path: str, who: User, body: Any, **headers: str
) -> tuple[int, dict[str, Any], str | None]:
    resp = await tasks.patch(path, json=body, headers={**who.headers, **headers})
    return resp.status, dict(await resp.json()), resp.headers.get("ETag")


async def offers_of(tasks: Client, task_id: str, who: User) -> dict[str, str]:
    resp = await tasks.get(f"/tasks/{task_id}/offers", headers=who.headers)
    assert resp.status == 200
    return {o["id"]: o["status"] for o in (await resp.json())["items"]}


def types(events: list[Any]) -> list[tuple[str, int]]:
    return [(e.type, e.version) for e in events]


async def test_a_tasker_updates_their_open_offer_against_its_etag(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    resp = await tasks.post(
        f"/tasks/{task['id']}/offers",
        json={"price_cents": 7000, "message": "Tomorrow morning?"},
        headers=worker.headers,
    )
    made = await resp.json()
    assert (resp.status, made["version"], resp.headers["ETag"]) == (201, 1, '"1"')
    path = f"/tasks/{task['id']}/offers/{made['id']}"
    status, body, etag = await patch(
        tasks, path, worker, {"price_cents": 6500}, **{"If-Match": '"1"'}
    )
    assert (status, body["price_cents"], body["message"], body["version"]) == (
        200,
        6500,
        made["message"],
        2,
    )
    assert etag == '"2"'
    status, body, _ = await patch(tasks, path, worker, {"price_cents": 6000}, **{"If-Match": '"1"'})
    assert (status, body["code"]) == (412, "version_mismatch")
    status, body, _ = await patch(tasks, path, issuer.user("tasker"), {"price_cents": 1})
    assert (status, body["code"]) == (404, "offer_not_found")  # another tasker's offer
    status, body, _ = await patch(tasks, path, owner, {"price_cents": 1})
    assert status == 403  # the owner sees it but taskers alone change offers
    status, _, _ = await patch(tasks, path, worker, {"price_cents": 0})
    assert status == 422
    events = await task_events(nats_server.url, UUID(task["id"]), count=3)
    assert types(events) == [
        ("tasks.task.created", 1),
        ("tasks.offer.created", 1),
        ("tasks.offer.updated", 1),
    ]
    assert (events[2].data["price_cents"], events[2].data["version"]) == (6500, 2)
    assert events[2].data["owner_id"] == str(owner.id)


async def test_a_tasker_withdraws_an_open_offer_once_and_may_offer_again(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    withdraw = f"offers/{made['id']}/withdraw"
    status, body = await move(tasks, task["id"], withdraw, issuer.user("tasker"))
    assert (status, body["code"]) == (404, "offer_not_found")
    status, body = await move(tasks, task["id"], withdraw, owner)
    assert status == 403  # the owner sees the offer; only its tasker takes it back
    status, body = await move(tasks, task["id"], withdraw, worker, **{"If-Match": '"7"'})
    assert (status, body["code"]) == (412, "version_mismatch")
    status, body = await move(tasks, task["id"], withdraw, worker, **{"If-Match": '"1"'})
    assert (status, body["status"], body["version"]) == (200, "withdrawn", 2)
    status, body = await move(tasks, task["id"], withdraw, worker)
    assert (status, body["code"]) == (409, "invalid_transition")
    path = f"/tasks/{task['id']}/offers/{made['id']}"
    status, body, _ = await patch(tasks, path, worker, {"message": "still keen"})
    assert (status, body["code"]) == (409, "invalid_transition")
    status, body = await move(tasks, task["id"], "assign", owner, {"offer_id": made["id"]})
    assert (status, body["code"]) == (409, "invalid_transition")  # a withdrawn offer
    again = await offer(tasks, task["id"], worker)  # only open offers count as "one each"
    assert again["id"] != made["id"]
    events = await task_events(nats_server.url, UUID(task["id"]), count=4)
    assert types(events)[2:] == [("tasks.offer.withdrawn", 1), ("tasks.offer.created", 1)]
    assert events[2].data["offer_id"] == made["id"]


async def test_assigning_one_offer_declines_every_other_open_one_with_an_event_each(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner = issuer.user("client")
    task = await post_task(tasks, owner)
    taskers = [issuer.user("tasker") for _ in range(4)]
    made = [await offer(tasks, task["id"], t) for t in taskers]
    status, _ = await move(tasks, task["id"], f"offers/{made[3]['id']}/withdraw", taskers[3])
    assert status == 200
    status, body = await move(tasks, task["id"], "assign", owner, {"offer_id": made[0]["id"]})
    assert status == 200
    assert await offers_of(tasks, task["id"], owner) == {
        made[0]["id"]: "accepted",
        made[1]["id"]: "declined",
        made[2]["id"]: "declined",
        made[3]["id"]: "withdrawn",
    }
    events = await task_events(nats_server.url, UUID(task["id"]), count=9)
    declined = [e for e in events if e.type == "tasks.offer.declined"]
    assert [(e.version, e.data["offer_id"], e.data["tasker_id"]) for e in declined] == [
        (1, made[n]["id"], str(taskers[n].id)) for n in (1, 2)
    ]
    assert {e.data["owner_id"] for e in declined} == {str(owner.id)}
    path = f"/tasks/{task['id']}/offers/{made[1]['id']}"
    status, body, _ = await patch(tasks, path, taskers[1], {"price_cents": 10})
    assert (status, body["code"]) == (409, "invalid_transition")  # declined offers are final


async def assigned_with_rivals(
    tasks: Client, issuer: Issuer, *, rivals: int = 2
) -> tuple[User, User, list[User], dict[str, Any], list[dict[str, Any]]]:
    """A task due in two days, assigned to one tasker over `rivals` others."""
    owner, worker = issuer.user("client"), issuer.user("tasker")
    due = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    task = await post_task(tasks, owner, due_at=due)
    others = [issuer.user("tasker") for _ in range(rivals)]
    made = [await offer(tasks, task["id"], t) for t in (worker, *others)]
    status, body = await move(tasks, task["id"], "assign", owner, {"offer_id": made[0]["id"]})
    assert status == 200, body
    return owner, worker, others, body, made


async def queued_jobs(tasks: Client, issuer: Issuer, task_id: str) -> list[str]:
    admin = issuer.user("admin")
    params = {"task_id": task_id, "status": "queued"}
    resp = await tasks.get("/tasks/admin/jobs", params=params, headers=admin.headers)
    assert resp.status == 200
    return sorted(j["kind"] for j in (await resp.json())["items"])


async def test_the_assignee_withdraws_and_the_task_and_its_declined_offers_open_again(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, others, task, made = await assigned_with_rivals(tasks, issuer)
    task_id = task["id"]
    assert await queued_jobs(tasks, issuer, task_id) == ["expire_task", "remind_assignee"]
    status, body = await move(tasks, task_id, "start", worker)
    assert status == 200
    reason = {"reason": "Hurt my back"}
    status, body = await move(tasks, task_id, "withdraw", others[0], reason)
    assert (status, body["code"]) == (403, "not_assignee")  # an offerer sees it, may not
    status, body = await move(tasks, task_id, "withdraw", issuer.user("tasker"), reason)
    assert status == 404  # a stranger to a private task
    status, body = await move(tasks, task_id, "withdraw", owner, reason)
    assert status == 403  # the owner releases; withdrawing is the assignee's
    status, body = await move(tasks, task_id, "withdraw", worker, {"reason": ""})
    assert status == 422
    status, body = await move(tasks, task_id, "withdraw", worker, reason, **{"If-Match": '"1"'})
    assert (status, body["code"]) == (412, "version_mismatch")
    status, body = await move(tasks, task_id, "withdraw", worker, reason, **{"If-Match": '"3"'})
    assert (status, body["status"], body["assignee_id"], body["offer_id"]) == (
        200,
        "open",
        None,
        None,
    )
    status, body = await move(tasks, task_id, "withdraw", worker, reason)
    assert (status, body["code"]) == (409, "invalid_transition")
    assert await offers_of(tasks, task_id, owner) == {
        made[0]["id"]: "withdrawn",
        made[1]["id"]: "open",
        made[2]["id"]: "open",
    }
    # The old assignee is reminded of nothing; the open task still expires at its due time.
    assert await queued_jobs(tasks, issuer, task_id) == ["expire_task"]
    # One open offer per tasker still: a revived offer's tasker cannot add another.
    resp = await tasks.post(
        f"/tasks/{task_id}/offers", json={"price_cents": 100}, headers=others[0].headers
    )
    assert (resp.status, (await resp.json())["code"]) == (409, "offer_exists")
    events = await task_events(nats_server.url, UUID(task_id), count=9)
    reopened = events[-1]
    assert (reopened.type, reopened.version) == ("tasks.task.reopened", 1)
    assert reopened.data["by"] == "assignee"
    assert reopened.data["reason"] == "Hurt my back"
    assert reopened.data["former_assignee_id"] == str(worker.id)
    assert sorted(reopened.data["reopened_offer_tasker_ids"]) == sorted(str(t.id) for t in others)


async def test_the_owner_releases_the_assignee_and_may_assign_another(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, others, task, made = await assigned_with_rivals(tasks, issuer, rivals=1)
    task_id = task["id"]
    reason = {"reason": "No show"}
    status, _ = await move(tasks, task_id, "release", issuer.user("client"), reason)
    assert status == 404  # a stranger to a private task
    status, _ = await move(tasks, task_id, "release", worker, reason)
    assert status == 403  # the assignee withdraws; releasing is the owner's
    status, body = await move(tasks, task_id, "release", owner, reason)
    assert (status, body["status"]) == (200, "open")
    status, body = await move(tasks, task_id, "release", owner, reason)
    assert (status, body["code"]) == (409, "invalid_transition")
    assert await offers_of(tasks, task_id, owner) == {
        made[0]["id"]: "released",
        made[1]["id"]: "open",
    }
    status, body = await move(tasks, task_id, "assign", owner, {"offer_id": made[1]["id"]})
    assert (status, body["assignee_id"]) == (200, str(others[0].id))
    events = await task_events(nats_server.url, UUID(task_id), count=7)
    assert types(events)[-2:] == [("tasks.task.reopened", 1), ("tasks.task.assigned", 1)]
    assert events[-2].data["by"] == "owner"
    assert events[-2].data["former_assignee_id"] == str(worker.id)


async def status_of(tasks: Client, task_id: str, who: User) -> str:
    resp = await tasks.get(f"/tasks/{task_id}", headers=who.headers)
    return str((await resp.json())["status"])


async def until_status(tasks: Client, task_id: str, who: User, status: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    while await status_of(tasks, task_id, who) != status:
        assert asyncio.get_running_loop().time() < deadline, f"never {status}"
        await asyncio.sleep(0.1)


async def test_an_expired_task_is_reposted_and_expires_again_at_its_new_due_time(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    task = await post_task(tasks, owner, due_at=due.isoformat())
    await offer(tasks, task["id"], worker)
    await until_status(tasks, task["id"], owner, "expired")
    later = {"due_at": (datetime.now(UTC) + timedelta(seconds=4)).isoformat()}
    status, _ = await move(tasks, task["id"], "repost", issuer.user("client"), later)
    assert status == 404  # an expired task is private
    status, _ = await move(tasks, task["id"], "repost", worker, later)
    assert status == 403  # an offerer sees it; reposting is the owner's
    past = {"due_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    status, body = await move(tasks, task["id"], "repost", owner, past)
    assert (status, body["code"]) == (422, "due_in_past")
    status, body = await move(tasks, task["id"], "repost", owner, later, **{"If-Match": '"1"'})
    assert status == 412
    status, body = await move(tasks, task["id"], "repost", owner, later, **{"If-Match": '"2"'})
    assert (status, body["status"], body["version"]) == (200, "open", 3)
    status, body = await move(tasks, task["id"], "repost", owner, later)
    assert (status, body["code"]) == (409, "invalid_transition")
    await until_status(tasks, task["id"], owner, "expired")  # its expiry job, scheduled again
    events = await task_events(nats_server.url, UUID(task["id"]), count=5, timeout_s=15)
    assert types(events) == [
        ("tasks.task.created", 1),
        ("tasks.offer.created", 1),
        ("tasks.task.expired", 1),
        ("tasks.task.reposted", 1),
        ("tasks.task.expired", 1),
    ]
    reposted_due = datetime.fromisoformat(events[3].data["due_at"])
    assert reposted_due == datetime.fromisoformat(later["due_at"])


async def history(tasks: Client, task_id: str, who: User) -> tuple[int, Any]:
    resp = await tasks.get(f"/tasks/{task_id}/history", headers=who.headers)
    return resp.status, await resp.json()


async def test_the_owner_edits_an_open_task_and_a_task_with_offers_keeps_the_history(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker = issuer.user("client"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    path = f"/tasks/{task['id']}"
    status, body, etag = await patch(tasks, path, owner, {"title": "Hang four shelves"})
    assert (status, body["title"], etag) == (200, "Hang four shelves", '"2"')
    assert await history(tasks, task["id"], owner) == (200, {"items": [], "next_cursor": None})
    await offer(tasks, task["id"], worker)
    due = (datetime.now(UTC) + timedelta(days=3)).replace(microsecond=0)
    change = {"budget_cents": 9000, "due_at": due.isoformat()}
    status, body, _ = await patch(tasks, path, owner, change, **{"If-Match": '"1"'})
    assert (status, body["code"]) == (412, "version_mismatch")
    status, body, _ = await patch(tasks, path, issuer.user("client"), change)
    assert (status, body["code"]) == (403, "not_owner")  # an open task is public
    for bad in ({"status": "completed"}, {"title": None}, {"budget_cents": -1}):
        status, _, _ = await patch(tasks, path, owner, bad)
        assert status == 422, bad
    status, body, etag = await patch(tasks, path, owner, change, **{"If-Match": '"2"'})
    assert (status, body["budget_cents"], body["version"], etag) == (200, 9000, 3, '"3"')
    for who in (owner, worker, issuer.user("admin")):
        status, page = await history(tasks, task["id"], who)
        assert status == 200
        assert [e["changes"] for e in page["items"]] == [
            {
                "budget_cents": {"from": 7500, "to": 9000},
                "due_at": {"from": None, "to": due.isoformat()},
            }
        ]
        assert page["items"][0]["editor_id"] == str(owner.id)
    for stranger in (issuer.user("client"), issuer.user("tasker")):
        assert (await history(tasks, task["id"], stranger))[0] == 403
    assert await queued_jobs(tasks, issuer, task["id"]) == ["expire_task"]  # the new due_at
    events = await task_events(nats_server.url, UUID(task["id"]), count=4)
    edited = events[-1]
    assert (edited.type, edited.version) == ("tasks.task.edited", 1)
    assert edited.data["changes"] == {"budget_cents": 9000, "due_at": due.isoformat()}
    assert edited.data["offerer_ids"] == [str(worker.id)]
    made = (await tasks.get(f"{path}/offers", headers=owner.headers)).json()
    offer_id = (await made)["items"][0]["id"]
    status, _ = await move(tasks, task["id"], "assign", owner, {"offer_id": offer_id})
    assert status == 200
    status, body, _ = await patch(tasks, path, owner, {"title": "Too late"})
    assert (status, body["code"]) == (409, "invalid_transition")
    status, _, _ = await patch(tasks, path, issuer.user("client"), {"title": "Too late"})
    assert status == 404  # assigned: private
    assert (await history(tasks, task["id"], issuer.user("client")))[0] == 404
    assert (await history(tasks, task["id"], worker))[0] == 200
