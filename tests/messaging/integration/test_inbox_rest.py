"""The inbox over REST on one replica: order by activity, previews, unread, the read twin,
and who may read what (a stranger's conversation is a 404 like a missing one)."""

from __future__ import annotations

import pytest

from .conftest import Client, Connect

pytestmark = pytest.mark.db


async def test_the_inbox_moves_with_messages_and_reads(
    messaging: Client, open_conversation, issuer, connect: Connect
) -> None:
    owner = issuer.user("client")
    old, new = await open_conversation(owner=owner), await open_conversation(owner=owner)
    sock = await connect(messaging, owner)
    await sock.send({"type": "ping"})
    await sock.until("pong")
    following = await connect(messaging, owner)  # the open chat: gets messages instead
    await following.subscribe(old.id)

    async def inbox(user) -> list[dict]:
        page = await messaging.get("/messaging/conversations", headers=user.headers)
        return list((await page.json())["items"])

    assert [c["id"] for c in await inbox(owner)] == [str(new.id), str(old.id)]
    url = f"/messaging/conversations/{old.id}/messages"
    for k, who in enumerate((old.tasker, old.tasker, owner, old.tasker)):
        body = {"body": f"  reply\n{k} " + "z" * 130, "client_msg_id": f"k{k}"}
        assert (await messaging.post(url, json=body, headers=who.headers)).status == 201
    top = (await inbox(owner))[0]
    assert top["id"] == str(old.id)  # moved up by its messages
    assert top["preview"] == ("reply 3 " + "z" * 130)[:120]
    assert top["last_sender_id"] == str(old.tasker.id)
    assert top["unread"] == 1  # the owner's own message read the two before it
    # Nobody told messaging who they are (no auth events here): no name, no record yet.
    assert top["peer"] == {
        "id": str(old.tasker.id),
        "name": None,
        "rating_mean": None,
        "rating_count": 0,
        "completed_count": 0,
    }
    assert top["task_status"] == "open"
    updated = await sock.until("conversation_updated", last_seq=4)
    assert updated["unread"] == 1
    assert updated["preview"] == top["preview"]
    assert (await following.until("message", seq=4))["body"].startswith("  reply\n3")
    await following.send({"type": "ping"})
    await following.until("pong")
    assert [f for f in following.seen if f["type"] == "conversation_updated"] == []

    async def unread(user) -> dict:
        return dict(await (await messaging.get("/messaging/unread", headers=user.headers)).json())

    assert await unread(owner) == {
        "total": 1, "conversations": [{"conversation_id": str(old.id), "unread": 1}]
    }  # fmt: skip
    assert await unread(old.tasker) == {"total": 0, "conversations": []}  # wrote the last one
    read = f"/messaging/conversations/{old.id}/read"
    done = await messaging.post(read, json={"seq": 99}, headers=owner.headers)  # clamped
    assert await done.json() == {"conversation_id": str(old.id), "read_seq": 4, "unread": 0}
    back = await messaging.post(read, json={"seq": 1}, headers=owner.headers)  # never down
    assert (await back.json())["read_seq"] == 4
    assert await unread(owner) == {"total": 0, "conversations": []}


async def test_the_read_twin_refuses_strangers_and_bad_seqs(
    messaging: Client, open_conversation, issuer
) -> None:
    pair = await open_conversation()
    stranger = issuer.user("tasker")
    read = f"/messaging/conversations/{pair.id}/read"
    assert (await messaging.post(read, json={"seq": 1}, headers=stranger.headers)).status == 404
    for bad in ({"seq": -1}, {"seq": "x"}, {}, {"seq": 1, "extra": 1}, {"seq": 2**70}):
        assert (await messaging.post(read, json=bad, headers=pair.owner.headers)).status == 422
    missing = "/messaging/conversations/not-a-uuid/read"
    assert (
        await messaging.post(missing, json={"seq": 1}, headers=pair.owner.headers)
    ).status == 404
    assert (await messaging.post(read, json={"seq": 1})).status == 401
