"""Message reports over real HTTP and storage: a participant reports the other's message
once while open; strangers and other conversations' messages get 404; the admins' queue
holds the body as reported, and an admin dismisses or resolves each report once."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from .conftest import Client

pytestmark = pytest.mark.db


async def send(messaging: Client, conv: Any, who: Any, body: str) -> str:
    url = f"/messaging/conversations/{conv}/messages"
    resp = await messaging.post(
        url, json={"body": body, "client_msg_id": body}, headers=who.headers
    )
    assert resp.status == 201, await resp.text()
    return str((await resp.json())["id"])


async def queue(messaging: Client, admin: Any, state: str = "open") -> list[dict[str, Any]]:
    resp = await messaging.get(
        "/messaging/admin/reports", params={"state": state}, headers=admin.headers
    )
    assert resp.status == 200, await resp.text()
    return list((await resp.json())["items"])


async def test_a_participant_reports_a_message_and_an_admin_answers_it_once(
    messaging: Client, open_conversation, issuer
) -> None:
    pair, other = await open_conversation(), await open_conversation()
    admin, stranger = issuer.user("admin"), issuer.user("client")
    rude = await send(messaging, pair.id, pair.tasker, "Pay me outside the app or else")
    mine = await send(messaging, pair.id, pair.owner, "No thanks")
    elsewhere = await send(messaging, other.id, other.tasker, "Hello")

    def url(conv: Any, message: str) -> str:
        return f"/messaging/conversations/{conv}/messages/{message}/report"

    async def report(path: str, who: Any, reason: Any = "Threatening") -> Any:
        return await messaging.post(path, json={"reason": reason}, headers=who.headers)

    assert (await report(url(pair.id, rude), stranger)).status == 404
    assert (await report(url(pair.id, elsewhere), pair.owner)).status == 404
    assert (await report(url(pair.id, "nope"), pair.owner)).status == 404
    own = await report(url(pair.id, mine), pair.owner)
    assert own.status == 403
    assert (await own.json())["code"] == "own_content"
    for bad in ("", " ", "x" * 501, None):
        assert (await report(url(pair.id, rude), pair.owner, bad)).status == 422
    assert await queue(messaging, admin) == []

    resp = await report(url(pair.id, rude), pair.owner)
    assert resp.status == 201, await resp.text()
    filed = await resp.json()
    again = await report(url(pair.id, rude), pair.owner)
    assert again.status == 409
    assert (await again.json())["code"] == "report_exists"
    [queued] = await queue(messaging, admin)
    assert queued["id"] == filed["id"]
    assert queued["content"] == "Pay me outside the app or else"
    assert (queued["subject_id"], queued["reporter_id"]) == (
        str(pair.tasker.id),
        str(pair.owner.id),
    )
    assert (
        await messaging.get("/messaging/admin/reports", headers=pair.owner.headers)
    ).status == 403

    close = f"/messaging/admin/reports/{filed['id']}"
    refused = await messaging.post(
        f"{close}/dismiss", json={"note": "n"}, headers=pair.owner.headers
    )
    assert refused.status == 403
    resp = await messaging.post(f"{close}/dismiss", json={"note": "Heated, not a threat"},
                                headers=admin.headers)  # fmt: skip
    assert resp.status == 200, await resp.text()
    answered = await resp.json()
    assert (answered["status"], answered["note"]) == ("dismissed", "Heated, not a threat")
    assert answered["closed_by"] == str(admin.id)
    second = await messaging.post(f"{close}/resolve", json={"note": "n"}, headers=admin.headers)
    assert second.status == 409
    assert (await second.json())["code"] == "invalid_transition"
    for unknown in (uuid4(), "not-an-id"):
        missing = await messaging.post(f"/messaging/admin/reports/{unknown}/resolve",
                                       json={"note": "n"}, headers=admin.headers)  # fmt: skip
        assert missing.status == 404
        assert (await missing.json())["code"] == "report_not_found"
    assert await queue(messaging, admin) == []
    assert [r["status"] for r in await queue(messaging, admin, "closed")] == ["dismissed"]
