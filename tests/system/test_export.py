"""Issue 25, done-when 5 (the export half), through the gateway on real processes: one
`GET /me/export` holds what auth, tasks and messaging keep about the caller; the deleted
user's export before deletion lists their tasks, offers, messages and sessions; deleting
them leaves another user's export as it was."""

from __future__ import annotations

from typing import Any

import pytest

from .helpers import RunningPlatform, chat_between, demo

pytestmark = [pytest.mark.system, pytest.mark.timeout(240)]


async def export_of(api: Any, user: Any) -> dict[str, Any]:
    found = await api.call("GET", "/me/export", token=user.token, expect=(200,))
    assert set(found["services"]) == {"auth", "tasks", "messaging"}
    return dict(found)


async def settled_export(api: Any, user: Any) -> dict[str, Any]:
    """The export once the sign-up's events have reached messaging's mail notifier and its
    mail has left: the same document twice in a row, with no mail still queued."""

    async def probe() -> dict[str, Any] | None:
        first, second = await export_of(api, user), await export_of(api, user)
        part = second["services"]["messaging"]
        queued = [m for m in part["mails"] if m["state"] == "queued"]
        if part["mail_address"] is None or queued or stable(first) != stable(second):
            return None
        return second

    return await demo.eventually(probe, "a settled export")


def stable(document: dict[str, Any]) -> dict[str, Any]:
    """The document without the instants it was made at."""
    return {
        name: {k: v for k, v in part.items() if k != "exported_at"}
        for name, part in document["services"].items()
    }


async def test_the_export_lists_everything_and_a_deletion_leaves_others_unchanged(
    platform: RunningPlatform, api: Any, tag: str
) -> None:
    # A user posts tasks or offers on them (their role): Bob, a tasker, is deleted first,
    # Ann, a client, after checking that Bob's deletion left her export as it was.
    ann, bob, task_id, conv_id = await chat_between(api, tag)
    url = f"/messaging/conversations/{conv_id}/messages"
    for who, text in ((ann, "Can you bring a drill?"), (bob, "Yes, mine is cordless")):
        body = {"body": text, "client_msg_id": f"{who.name}-{tag}"}
        await api.call("POST", url, token=who.token, json_body=body, expect=(201,))

    doc = await settled_export(api, bob)
    auth, tasks, messaging = (doc["services"][n] for n in ("auth", "tasks", "messaging"))
    assert auth["account"]["id"] == bob.id
    assert [s["revoked_at"] for s in auth["sessions"]] == [None]
    assert tasks["tasks"] == []
    assert [(o["task_id"], o["status"]) for o in tasks["offers"]] == [(task_id, "open")]
    assert [c["id"] for c in messaging["conversations"]] == [conv_id]
    assert [(m["sender_id"], m["body"]) for m in messaging["messages"]] == [
        (ann.id, "Can you bring a drill?"),
        (bob.id, "Yes, mine is cordless"),
    ]
    assert messaging["mail_address"] == bob.email

    before = await settled_export(api, ann)
    part = before["services"]
    assert [t["id"] for t in part["tasks"]["tasks"]] == [task_id]
    assert part["tasks"]["offers"] == []
    assert len(part["messaging"]["messages"]) == 2
    assert [s["revoked_at"] for s in part["auth"]["sessions"]] == [None]
    await delete(api, bob)
    after = await eventually_withdrawn(api, ann)
    # Ann's own data is all still there: her task, the chat's messages, her session. What
    # Bob's deletion adds is news of it: his open offer withdrawn (a notification).
    kept, now = stable(before), stable(after)
    old_notes, new_notes = (
        kept["messaging"].pop("notifications"),
        now["messaging"].pop("notifications"),
    )
    assert now == kept
    assert old_notes == [n for n in new_notes if n["kind"] != "offer_withdrawn"]
    await delete(api, ann)


async def eventually_withdrawn(api: Any, owner: Any) -> dict[str, Any]:
    """The owner's settled export once the deleted tasker's offer withdrawal has reached them."""

    async def probe() -> dict[str, Any] | None:
        doc = await settled_export(api, owner)
        notes = doc["services"]["messaging"]["notifications"]
        return doc if any(n["kind"] == "offer_withdrawn" for n in notes) else None

    return await demo.eventually(probe, "the withdrawn offer's notification")


async def delete(api: Any, user: Any) -> None:
    password = {"password": demo.PASSWORD}
    await api.call("DELETE", "/auth/me", token=user.token, json_body=password, expect=(204,))
    refused = {"email": user.email, "password": demo.PASSWORD}
    await api.call("POST", "/auth/login", json_body=refused, expect=(401,))
    # The token no longer exports anything: its session ended with the account.
    await api.call("GET", "/me/export", token=user.token, expect=(401,))


async def test_the_export_needs_a_signed_in_caller(platform: RunningPlatform, api: Any) -> None:
    await api.call("GET", "/me/export", expect=(401,))
    await api.call("GET", "/me/export", token="not-a-token", expect=(401,))
