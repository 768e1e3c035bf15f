"""The REST mirror's pages, read markers, and how sockets end: shutdown 1012, idle."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest

from chore_common.contracts.envelope import Envelope
from chore_common.testing.apps import StartApp
from chore_common.testing.nats import NatsServer

from .conftest import Client, Connect
from .test_ordering import messages_until, send_frame

pytestmark = pytest.mark.db


async def test_conversations_and_history_page_through(
    messaging: Client, open_conversation, issuer
) -> None:
    owner = issuer.user("client")
    pairs = [await open_conversation(owner=owner) for _ in range(3)]
    seen: list[str] = []
    cursor = None
    while True:
        query = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = await (
            await messaging.get(f"/messaging/conversations{query}", headers=owner.headers)
        ).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(str(p.id) for p in pairs)

    url = f"/messaging/conversations/{pairs[0].id}/messages"
    for k in range(5):
        resp = await messaging.post(
            url, json={"body": f"m{k}", "client_msg_id": str(k)}, headers=owner.headers
        )
        assert resp.status == 201
    first = await (await messaging.get(f"{url}?limit=3", headers=owner.headers)).json()
    assert [m["seq"] for m in first["items"]] == [1, 2, 3]
    assert first["next_after_seq"] == 3
    rest = await (await messaging.get(f"{url}?after_seq=3&limit=3", headers=owner.headers)).json()
    assert [m["body"] for m in rest["items"]] == ["m3", "m4"]
    assert rest["next_after_seq"] is None
    bad = await messaging.get(f"{url}?limit=0", headers=owner.headers)
    assert bad.status == 422
    missing = await messaging.get(
        "/messaging/conversations/not-a-uuid/messages", headers=owner.headers
    )
    assert missing.status == 404
    too_long = await messaging.post(
        url, json={"body": "x" * 4001, "client_msg_id": "z"}, headers=owner.headers
    )
    assert too_long.status == 422
    assert (await too_long.json())["code"] == "body_too_long"
    anonymous = await messaging.get("/messaging/conversations")
    assert anonymous.status == 401


async def test_read_marks_and_live_only_subscriptions(
    messaging: Client, open_conversation, connect: Connect
) -> None:
    pair = await open_conversation()
    owner = await connect(messaging, pair.owner)
    for k in range(3):
        await owner.send(send_frame(pair.id, f"m{k}", f"k{k}"))
        await owner.until("ack", client_msg_id=f"k{k}")
    tasker = await connect(messaging, pair.tasker)
    live = await tasker.subscribe(pair.id, since_seq=None)  # no replay: from now on
    assert live["last_seq"] == 3
    await owner.send(send_frame(pair.id, "new", "k3"))
    frame = await tasker.until("message")
    assert (frame["seq"], frame["body"]) == (4, "new")
    await tasker.send({"type": "read", "conversation_id": str(pair.id), "seq": 4})
    await tasker.send({"type": "ping"})
    await tasker.until("pong")
    listed = await (
        await messaging.get("/messaging/conversations", headers=pair.tasker.headers)
    ).json()
    assert (listed["items"][0]["read_seq"], listed["items"][0]["last_seq"]) == (4, 4)
    # Subscribing again with since_seq restarts the subscription with a replay.
    await tasker.send({"type": "subscribe", "conversation_id": str(pair.id), "since_seq": 2})
    assert await messages_until(tasker, 2) == [3, 4]
    await tasker.until("subscribed")
    await tasker.send({"type": "unsubscribe", "conversation_id": str(pair.id)})
    await owner.send(send_frame(pair.id, "unheard", "k4"))
    await owner.until("ack", client_msg_id="k4")
    await tasker.send({"type": "ping"})
    await tasker.until("pong")
    assert not [f for f in tasker.seen if f.get("body") == "unheard"]


async def test_shutdown_closes_sockets_1012(
    start_messaging: StartApp, open_conversation, connect: Connect
) -> None:
    server = await start_messaging()
    pair = await open_conversation()
    sock = await connect(server, pair.owner)
    await sock.subscribe(pair.id)
    await server.close()
    assert await sock.closed() == 1012


async def test_an_idle_socket_is_closed(
    start_messaging: StartApp, connect: Connect, issuer
) -> None:
    server = await start_messaging(ws_idle_timeout_s=0.3)
    sock = await connect(server, issuer.user("client"))
    assert await sock.closed(wait_s=3) == 1000


async def test_metrics_count_sockets_frames_and_fanout(
    messaging: Client, open_conversation, connect: Connect
) -> None:
    pair = await open_conversation()
    reader = await connect(messaging, pair.tasker)
    await reader.subscribe(pair.id)
    writer = await connect(messaging, pair.owner)
    await writer.send(send_frame(pair.id, "counted", "c1"))
    await reader.until("message")
    text = await (await messaging.get("/metrics")).text()
    for name in (
        "messaging_websockets_open",
        'messaging_frames_in_total{type="send"}',
        "messaging_frames_out_total",
        "messaging_fanout_latency_seconds_count",
        "messaging_slow_client_drops_total",
    ):
        assert name in text, name
    open_now = next(
        line for line in text.splitlines() if line.startswith("messaging_websockets_open")
    )
    assert float(open_now.split()[-1]) >= 2


async def test_a_stored_message_is_published_as_messaging_message_sent(
    messaging: Client, open_conversation, nats_server: NatsServer
) -> None:
    pair = await open_conversation()
    resp = await messaging.post(
        f"/messaging/conversations/{pair.id}/messages",
        json={"body": "secret words", "client_msg_id": "e1"},
        headers=pair.owner.headers,
    )
    assert resp.status == 201
    nc = await nats.connect(nats_server.url)
    found: list[Envelope] = []
    done = asyncio.Event()

    async def on_message(msg: Any) -> None:
        envelope = Envelope.from_bytes(msg.data)
        if envelope.data.get("conversation_id") == str(pair.id):
            found.append(envelope)
            done.set()

    try:
        sub = await nc.jetstream().subscribe("messaging.>", cb=on_message, ordered_consumer=True)
        await asyncio.wait_for(done.wait(), 10)
        await sub.unsubscribe()
    finally:
        await nc.close()
    event = found[0]
    assert (event.type, event.version, event.producer) == ("messaging.message.sent", 1, "messaging")
    assert event.data["seq"] == 1
    assert event.data["sender_id"] == str(pair.owner.id)
    assert event.data["recipient_id"] == str(pair.tasker.id)
    assert event.data["body_length"] == len("secret words")
    assert "secret" not in json.dumps(event.data)  # the bus carries no chat text
