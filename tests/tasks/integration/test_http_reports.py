"""Reports of tasks and offers over real HTTP and storage: only who can see the object may
report it, once while open; the admins' queue holds what was reported as the reporter saw it,
and an admin dismisses or resolves each report once."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client, Issuer, User

pytestmark = pytest.mark.db


async def post_task(tasks: Client, owner: User, title: str = "Clean the garage") -> str:
    body = {"title": title, "description": "Call 555-0100 for cash", "category": "cleaning",
            "budget_cents": 3000}  # fmt: skip
    resp = await tasks.post("/tasks", json=body, headers=owner.headers)
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def report(tasks: Client, path: str, who: User, reason: Any = "Looks like a scam") -> Any:
    return await tasks.post(path, json={"reason": reason}, headers=who.headers)


async def queue(tasks: Client, admin: User, state: str = "open") -> list[dict[str, Any]]:
    resp = await tasks.get("/tasks/admin/reports", params={"state": state}, headers=admin.headers)
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def test_a_report_queues_with_the_content_and_an_admin_answers_it_once(
    tasks: Client, issuer: Issuer
) -> None:
    owner, tasker, admin = issuer.user("client"), issuer.user("tasker"), issuer.user("admin")
    task_id = await post_task(tasks, owner)
    resp = await report(tasks, f"/tasks/{task_id}/report", tasker, "  Asks for cash off-site ")
    assert resp.status == 201, await resp.text()
    filed = await resp.json()
    assert filed["status"] == "open"
    assert filed["reason"] == "Asks for cash off-site"
    assert filed["subject_id"] == str(owner.id)
    again = await report(tasks, f"/tasks/{task_id}/report", tasker)
    assert again.status == 409
    assert (await again.json())["code"] == "report_exists"
    # The owner edits the task afterwards: the queue still shows what was reported.
    edited = await tasks.patch(
        f"/tasks/{task_id}", json={"description": "Nothing to see"},
        headers={**owner.headers, "If-Match": '"1"'},
    )  # fmt: skip
    assert edited.status == 200, await edited.text()
    [queued] = await queue(tasks, admin)
    assert queued["id"] == filed["id"]
    assert queued["content"] == "Clean the garage\n\nCall 555-0100 for cash"
    assert queued["reporter_id"] == str(tasker.id)

    url = f"/tasks/admin/reports/{filed['id']}"
    assert (
        await tasks.post(f"{url}/resolve", json={"note": "x"}, headers=owner.headers)
    ).status == 403
    resp = await tasks.post(
        f"{url}/resolve", json={"note": "Warned the owner"}, headers=admin.headers
    )
    assert resp.status == 200, await resp.text()
    answered = await resp.json()
    assert (answered["status"], answered["note"]) == ("resolved", "Warned the owner")
    assert answered["closed_by"] == str(admin.id)
    second = await tasks.post(f"{url}/dismiss", json={"note": "no"}, headers=admin.headers)
    assert second.status == 409
    assert (await second.json())["code"] == "invalid_transition"
    assert await queue(tasks, admin) == []
    assert [r["status"] for r in await queue(tasks, admin, "closed")] == ["resolved"]
    # Answered, the reporter may report it again.
    assert (await report(tasks, f"/tasks/{task_id}/report", tasker)).status == 201
    missing = await tasks.post(
        "/tasks/admin/reports/0b4c8f1e-9d55-4f54-9f55-6a4b1a1f0c11/dismiss",
        json={"note": "n"}, headers=admin.headers,
    )  # fmt: skip
    assert missing.status == 404


async def test_only_who_can_see_an_offer_reports_it(tasks: Client, issuer: Issuer) -> None:
    owner, tasker, other = issuer.user("client"), issuer.user("tasker"), issuer.user("tasker")
    admin = issuer.user("admin")
    task_id = await post_task(tasks, owner)
    resp = await tasks.post(
        f"/tasks/{task_id}/offers", json={"price_cents": 2500, "message": "Pay me upfront"},
        headers=tasker.headers,
    )  # fmt: skip
    offer_id = (await resp.json())["id"]
    path = f"/tasks/{task_id}/offers/{offer_id}/report"
    # Another tasker does not see this offer: 404, as for one that does not exist.
    assert (await report(tasks, path, other)).status == 404
    assert (await report(tasks, f"/tasks/{task_id}/offers/not-an-id/report", owner)).status == 404
    own = await report(tasks, path, tasker)
    assert own.status == 403
    assert (await own.json())["code"] == "own_content"
    for bad in ("", "   ", "x" * 501, 5):
        assert (await report(tasks, path, owner, bad)).status == 422
    assert await queue(tasks, admin) == []
    resp = await report(tasks, path, owner, "Wants money first")
    assert resp.status == 201
    [queued] = await queue(tasks, admin)
    assert (queued["target"], queued["target_id"]) == ("offer", offer_id)
    assert queued["content"].endswith("Pay me upfront")
    assert queued["subject_id"] == str(tasker.id)
    assert (await tasks.get("/tasks/admin/reports", headers=owner.headers)).status == 403


async def test_a_private_task_is_404_to_a_stranger(tasks: Client, issuer: Issuer) -> None:
    owner, tasker, stranger = issuer.user("client"), issuer.user("tasker"), issuer.user("client")
    task_id = await post_task(tasks, owner)
    resp = await tasks.post(
        f"/tasks/{task_id}/offers", json={"price_cents": 2500}, headers=tasker.headers
    )
    offer_id = (await resp.json())["id"]
    resp = await tasks.post(
        f"/tasks/{task_id}/assign", json={"offer_id": offer_id}, headers=owner.headers
    )
    assert resp.status == 200
    assert (await report(tasks, f"/tasks/{task_id}/report", stranger)).status == 404
    assert (await report(tasks, f"/tasks/{task_id}/report", tasker)).status == 201
