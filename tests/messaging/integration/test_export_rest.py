"""GET /messaging/me/export over real HTTP and storage: the caller's conversations with the
messages sent and received in them, notifications and settings; nobody else's."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import Client

pytestmark = pytest.mark.db


async def export_of(messaging: Client, user: Any) -> dict[str, Any]:
    resp = await messaging.get("/messaging/me/export", headers=user.headers)
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    return dict(await resp.json())


async def test_export_holds_the_callers_conversations_messages_and_settings(
    messaging: Client, open_conversation, issuer
) -> None:
    owner = issuer.user("client")
    pair, other = await open_conversation(owner=owner), await open_conversation()
    url = f"/messaging/conversations/{pair.id}/messages"
    for k, (who, text) in enumerate(((owner, "Hello"), (pair.tasker, "Hi, tomorrow?"))):
        body = {"body": text, "client_msg_id": f"m{k}"}
        assert (await messaging.post(url, json=body, headers=who.headers)).status == 201
    strangers = f"/messaging/conversations/{other.id}/messages"
    body = {"body": "not yours", "client_msg_id": "x"}
    assert (await messaging.post(strangers, json=body, headers=other.owner.headers)).status == 201
    change = {"time_zone": "Europe/Berlin", "kinds": {"offer": {"email": False}}}
    assert (await messaging.put("/messaging/settings", json=change, headers=owner.headers)).ok

    mine = await export_of(messaging, owner)
    assert mine["service"] == "messaging"
    assert mine["user_id"] == str(owner.id)
    assert [c["id"] for c in mine["conversations"]] == [str(pair.id)]
    assert mine["conversations"][0]["tasker_id"] == str(pair.tasker.id)
    assert [(m["sender_id"], m["body"]) for m in mine["messages"]] == [
        (str(owner.id), "Hello"),
        (str(pair.tasker.id), "Hi, tomorrow?"),
    ]
    # The offer that opened the conversation notified the owner.
    assert [n["kind"] for n in mine["notifications"]] == ["offer_created"]
    assert mine["settings"]["time_zone"] == "Europe/Berlin"
    assert mine["settings"]["kinds"]["offer"] == {"in_app": True, "email": False}
    assert mine["mail_address"] is None
    assert mine["mails"] == []

    theirs = await export_of(messaging, pair.tasker)
    assert [c["id"] for c in theirs["conversations"]] == [str(pair.id)]
    assert [m["body"] for m in theirs["messages"]] == ["Hello", "Hi, tomorrow?"]
    assert theirs["notifications"] == []
    assert theirs["settings"]["time_zone"] != "Europe/Berlin"

    nobody = await export_of(messaging, issuer.user("tasker"))
    assert nobody["conversations"] == nobody["messages"] == nobody["notifications"] == []


async def test_export_needs_a_token(messaging: Client) -> None:
    assert (await messaging.get("/messaging/me/export")).status == 401
