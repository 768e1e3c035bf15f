"""Completion over real HTTP, a real database and a real nats-server: the assignee marks a
task done, the owner confirms or disputes it, an admin resolves the dispute. Each move: its
happy path, 403/404 for the wrong user, 409 for the wrong state, 412 for a stale If-Match,
and its event with its contract version in JetStream."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from chore_common.contracts.envelope import Envelope
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .conftest import Client, Issuer, User, task_events
from .test_http_tasks import move, offer, post_task

pytestmark = pytest.mark.db

STALE = {"If-Match": '"1"'}


async def in_progress(tasks: Client, issuer: Issuer) -> tuple[User, User, User, dict[str, Any]]:
    """Owner, assignee, a tasker who offered and lost, and the task in progress. Its events
    so far: created, two offers, assigned, the loser's offer declined, started."""
    owner, worker, loser = issuer.user("client"), issuer.user("tasker"), issuer.user("tasker")
    task = await post_task(tasks, owner)
    made = await offer(tasks, task["id"], worker)
    await offer(tasks, task["id"], loser)
    status, body = await move(tasks, task["id"], "assign", owner, {"offer_id": made["id"]})
    assert status == 200, body
    status, body = await move(tasks, task["id"], "start", worker)
    assert status == 200, body
    return owner, worker, loser, body


async def done(tasks: Client, issuer: Issuer) -> tuple[User, User, User, dict[str, Any]]:
    owner, worker, loser, task = await in_progress(tasks, issuer)
    status, body = await move(tasks, task["id"], "complete", worker)
    assert status == 200, body
    return owner, worker, loser, body


async def events_of(nats_server: NatsServer, task_id: str, count: int) -> list[Envelope]:
    events = await task_events(nats_server.url, UUID(task_id), count=count)
    assert len(events) == count, [e.type for e in events]
    return events


async def codes(tasks: Client, task_id: str, action: str, body: Any, *who: User) -> list[Any]:
    """(status, problem code) of `action` tried by each of `who` in turn."""
    found = []
    for user in who:
        status, problem = await move(tasks, task_id, action, user, body)
        found.append((status, problem.get("code")))
    return found


async def test_the_assignee_marks_the_task_done_and_tasks_task_done_v1_is_published(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, loser, task = await in_progress(tasks, issuer)
    task_id = task["id"]
    # Wrong users: the owner (a client: wrong role), the loser (may see it, may not act),
    # a stranger (may not even see it). Then a stale If-Match. Nothing moves.
    stranger = issuer.user("tasker")
    assert await codes(tasks, task_id, "complete", None, owner, loser, stranger) == [
        (403, "wrong_role"),
        (403, "not_assignee"),
        (404, "task_not_found"),
    ]
    status, problem = await move(tasks, task_id, "complete", worker, None, **STALE)
    assert (status, problem["code"]) == (412, "version_mismatch")

    status, body = await move(tasks, task_id, "complete", worker, None, **{"If-Match": '"3"'})
    assert (status, body["status"], body["version"]) == (200, "done", 4)
    # Done is not completed: completing it again is the wrong state.
    status, problem = await move(tasks, task_id, "complete", worker)
    assert (status, problem["code"]) == (409, "invalid_transition")

    event = (await events_of(nats_server, task_id, 7))[-1]
    assert (event.type, event.version) == ("tasks.task.done", 1)
    assert event.data["assignee_id"] == str(worker.id)
    auto_at = datetime.fromisoformat(event.data["auto_confirm_at"])
    done_at = datetime.fromisoformat(event.data["done_at"])
    assert auto_at - done_at == timedelta(hours=72)  # TASKS_AUTO_CONFIRM_H's default


async def test_the_owner_confirms_a_done_task_and_tasks_task_completed_v1_says_so(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, loser, task = await done(tasks, issuer)
    task_id = task["id"]
    stranger = issuer.user("client")
    assert await codes(tasks, task_id, "confirm", None, worker, stranger) == [
        (403, "wrong_role"),
        (404, "task_not_found"),
    ]
    status, problem = await move(tasks, task_id, "confirm", owner, None, **STALE)
    assert (status, problem["code"]) == (412, "version_mismatch")
    status, body = await move(tasks, task_id, "confirm", owner, None, **{"If-Match": '"4"'})
    assert (status, body["status"], body["version"]) == (200, "completed", 5)
    assert await codes(tasks, task_id, "confirm", None, owner) == [(409, "invalid_transition")]

    event = (await events_of(nats_server, task_id, 8))[-1]
    assert (event.type, event.version) == ("tasks.task.completed", 1)
    assert (event.data["confirmed_by"], event.data["assignee_id"]) == ("owner", str(worker.id))
    # The loser who offered still sees how it ended.
    resp = await tasks.get(f"/tasks/{task_id}", headers=loser.headers)
    assert (await resp.json())["status"] == "completed"


async def test_confirm_and_dispute_need_a_done_task(tasks: Client, issuer: Issuer) -> None:
    owner, _worker, _loser, task = await in_progress(tasks, issuer)
    reason = {"reason": "Not started"}
    assert await codes(tasks, task["id"], "confirm", None, owner) == [(409, "invalid_transition")]
    assert await codes(tasks, task["id"], "dispute", reason, owner) == [(409, "invalid_transition")]


async def test_the_owner_disputes_a_done_task_with_a_reason(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, _loser, task = await done(tasks, issuer)
    task_id = task["id"]
    reason = {"reason": "Only half the wall is painted"}
    stranger = issuer.user("client")
    assert await codes(tasks, task_id, "dispute", reason, worker, stranger) == [
        (403, "wrong_role"),
        (404, "task_not_found"),
    ]
    for bad in (None, {}, {"reason": ""}, {"reason": "x" * 501}):
        status, problem = await move(tasks, task_id, "dispute", owner, bad)
        assert status in (415, 422), (bad, problem)  # 415: no JSON body at all
    status, problem = await move(tasks, task_id, "dispute", owner, reason, **STALE)
    assert (status, problem["code"]) == (412, "version_mismatch")

    status, body = await move(tasks, task_id, "dispute", owner, reason)
    assert (status, body["status"], body["version"]) == (200, "disputed", 5)
    assert await codes(tasks, task_id, "dispute", reason, owner) == [(409, "invalid_transition")]
    assert await codes(tasks, task_id, "confirm", None, owner) == [(409, "invalid_transition")]

    event = (await events_of(nats_server, task_id, 8))[-1]
    assert (event.type, event.version) == ("tasks.task.disputed", 1)
    assert event.data["reason"] == reason["reason"]
    assert event.data["assignee_id"] == str(worker.id)


async def test_an_admin_lists_open_disputes_and_resolves_one_as_completed(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, worker, _loser, task = await done(tasks, issuer)
    task_id = task["id"]
    await move(tasks, task_id, "dispute", owner, {"reason": "Half done"})
    admin = issuer.user("admin")
    resp = await tasks.get("/tasks/admin/disputes?limit=100", headers=admin.headers)
    assert resp.status == 200
    [listed] = [d for d in (await resp.json())["items"] if d["task_id"] == task_id]
    assert (listed["reason"], listed["owner_id"], listed["assignee_id"]) == (
        "Half done",
        str(owner.id),
        str(worker.id),
    )
    assert listed["resolved_at"] is None
    resp = await tasks.get("/tasks/admin/disputes", headers=owner.headers)
    assert resp.status == 403

    path = f"/tasks/admin/tasks/{task_id}/resolve"
    body = {"outcome": "completed", "note": "The photos show it finished"}
    for who, expected in ((owner, 403), (worker, 403)):
        resp = await tasks.post(path, json=body, headers=who.headers)
        assert resp.status == expected
    resp = await tasks.post(
        f"/tasks/admin/tasks/{uuid4()}/resolve", json=body, headers=admin.headers
    )
    assert resp.status == 404
    for bad in ({"outcome": "open", "note": "x"}, {"outcome": "completed", "note": ""}):
        resp = await tasks.post(path, json=bad, headers=admin.headers)
        assert resp.status == 422
    resp = await tasks.post(path, json=body, headers={**admin.headers, **STALE})
    assert resp.status == 412

    resp = await tasks.post(path, json=body, headers={**admin.headers, "If-Match": '"5"'})
    assert resp.status == 200, await resp.text()
    resolved = await resp.json()
    assert (resolved["status"], resolved["version"]) == ("completed", 6)
    resp = await tasks.post(path, json=body, headers=admin.headers)
    assert (resp.status, (await resp.json())["code"]) == (409, "invalid_transition")

    events = (await events_of(nats_server, task_id, 10))[-2:]
    assert [(e.type, e.version) for e in events] == [
        ("tasks.task.dispute_resolved", 1),
        ("tasks.task.completed", 1),
    ]
    assert (events[0].data["outcome"], events[0].data["note"]) == ("completed", body["note"])
    assert events[0].data["resolved_by"] == str(admin.id)
    assert events[1].data["confirmed_by"] == "admin"
    resp = await tasks.get("/tasks/admin/disputes?state=resolved&limit=100", headers=admin.headers)
    [listed] = [d for d in (await resp.json())["items"] if d["task_id"] == task_id]
    assert (listed["outcome"], listed["note"]) == ("completed", body["note"])


async def test_an_admin_resolves_a_dispute_as_cancelled_with_the_note_kept(
    tasks: Client, issuer: Issuer, nats_server: NatsServer
) -> None:
    owner, _worker, _loser, task = await done(tasks, issuer)
    task_id = task["id"]
    admin = issuer.user("admin")
    path = f"/tasks/admin/tasks/{task_id}/resolve"
    body = {"outcome": "cancelled", "note": "Nobody came"}
    resp = await tasks.post(path, json=body, headers=admin.headers)
    assert (resp.status, (await resp.json())["code"]) == (409, "invalid_transition")  # not yet
    await move(tasks, task_id, "dispute", owner, {"reason": "Nobody came"})
    resp = await tasks.post(path, json=body, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    ended = await resp.json()
    assert (ended["status"], ended["cancel_reason"]) == ("cancelled", "Nobody came")
    event = (await events_of(nats_server, task_id, 9))[-1]
    assert (event.type, event.data["outcome"]) == ("tasks.task.dispute_resolved", "cancelled")


async def test_a_done_task_left_alone_completes_by_itself_and_is_no_longer_disputable(
    start_tasks: StartApp, issuer: Issuer, nats_server: NatsServer
) -> None:
    # Two seconds to object; the first replica runs no scheduler, so the window closes
    # with the task still `done` and the owner's late dispute meets the closed window.
    idle = await start_tasks(auto_confirm_h=2 / 3600, scheduler_enabled=False)
    owner, _worker, _loser, task = await done(idle, issuer)
    marked = (await events_of(nats_server, task["id"], 7))[-1]
    auto_at = datetime.fromisoformat(marked.data["auto_confirm_at"])
    await asyncio.sleep((auto_at - datetime.now(UTC)).total_seconds() + 0.2)  # window over
    status, problem = await move(idle, task["id"], "dispute", owner, {"reason": "Late"})
    assert (status, problem["code"]) == (409, "auto_confirm_due")

    running = await start_tasks(auto_confirm_h=2 / 3600)  # its scheduler takes the job
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        resp = await running.get(f"/tasks/{task['id']}", headers=owner.headers)
        body = await resp.json()
        if body["status"] == "completed":
            break
        assert loop.time() < deadline, body
        await asyncio.sleep(0.2)
    event = (await events_of(nats_server, task["id"], 8))[-1]
    assert (event.type, event.version, event.data["confirmed_by"]) == (
        "tasks.task.completed",
        1,
        "auto",
    )
