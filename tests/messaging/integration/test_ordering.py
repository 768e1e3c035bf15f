"""R7, R8 and client_msg_id de-duplication, on two replicas sharing one database and NATS."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chore_common.testing.apps import StartApp
from chore_messaging.usecases.messages import SendMessage, send_message

from .conftest import Client, Connect, NoFanout, Socket

pytestmark = pytest.mark.db


def send_frame(conversation_id: object, body: str, client_msg_id: str) -> dict[str, Any]:
    return {
        "type": "send",
        "conversation_id": str(conversation_id),
        "body": body,
        "client_msg_id": client_msg_id,
    }


async def messages_until(sock: Socket, count: int, wait_s: float = 60.0) -> list[int]:
    """Seqs of the next message frames, in arrival order, until `count` of them."""
    seqs: list[int] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while len(seqs) < count:
        frame = await sock.recv(wait_s=max(0.01, deadline - loop.time()))
        if frame["type"] == "message":
            seqs.append(frame["seq"])
        elif frame["type"] == "error":
            raise AssertionError(frame)
    return seqs


async def test_r7_ten_clients_two_replicas_see_every_seq_once_in_order(
    start_messaging: StartApp, open_conversation, connect: Connect
) -> None:
    a, b = await start_messaging(), await start_messaging()
    pair = await open_conversation()
    socks: list[Socket] = []
    for i in range(10):
        user = pair.owner if i < 5 else pair.tasker  # each user on several devices
        socks.append(await connect(a if i % 2 else b, user))
    for sock in socks:
        await sock.subscribe(pair.id)

    async def send_all(i: int, sock: Socket) -> None:
        for k in range(100):
            await sock.send(send_frame(pair.id, f"client {i} message {k}", f"{i}-{k}"))

    started = time.perf_counter()
    await asyncio.gather(*(send_all(i, s) for i, s in enumerate(socks)))
    seen = await asyncio.gather(*(messages_until(s, 1000) for s in socks))
    elapsed = time.perf_counter() - started
    for seqs in seen:
        assert seqs == list(range(1, 1001))
    for sock in socks:  # an ack may follow the sender's own copy of its last message
        while sum(f["type"] == "ack" for f in sock.seen) < 100:
            await sock.until("ack")
    acks = [f for s in socks for f in s.seen if f["type"] == "ack"]
    assert len(acks) == 1000
    assert sorted(f["seq"] for f in acks) == list(range(1, 1001))
    print(f"\nR7: 1000 messages from 10 clients on 2 replicas, all seen in order in {elapsed:.2f}s")


async def test_r8_reconnect_to_the_other_replica_with_since_seq(
    start_messaging: StartApp, open_conversation, connect: Connect
) -> None:
    a, b = await start_messaging(), await start_messaging()
    pair = await open_conversation()
    sender = await connect(a, pair.owner)
    reader = await connect(a, pair.tasker)
    await reader.subscribe(pair.id)

    async def send_all() -> None:
        for k in range(300):
            await sender.send(send_frame(pair.id, f"message {k}", f"m-{k}"))
            if k % 20 == 0:
                await asyncio.sleep(0.01)  # keep sending across the reconnect

    sending = asyncio.create_task(send_all())
    first = await messages_until(reader, 50)
    await reader.close()  # mid-stream
    resumed = await connect(b, pair.tasker)
    await resumed.send(
        {"type": "subscribe", "conversation_id": str(pair.id), "since_seq": first[-1]}
    )
    rest = await messages_until(resumed, 300 - len(first))
    await sending
    assert first + rest == list(range(1, 301))
    assert any(f["type"] == "subscribed" for f in resumed.seen)


async def test_resending_a_client_msg_id_stores_nothing_and_acks_the_first_seq(
    messaging: Client, open_conversation, connect: Connect
) -> None:
    pair = await open_conversation()
    owner = await connect(messaging, pair.owner)
    tasker = await connect(messaging, pair.tasker)
    await tasker.subscribe(pair.id)
    await owner.send(send_frame(pair.id, "first", "same-id"))
    first = await owner.until("ack")
    await owner.send(send_frame(pair.id, "second", "other-id"))
    await owner.until("ack", client_msg_id="other-id")
    await owner.send(send_frame(pair.id, "first again", "same-id"))
    again = await owner.until("ack", client_msg_id="same-id")
    assert again["seq"] == first["seq"] == 1
    assert again["id"] == first["id"]
    assert again["duplicate"] is True

    # Over REST too: 200 with the first message, and nothing new in the history.
    url = f"/messaging/conversations/{pair.id}/messages"
    resp = await messaging.post(
        url, json={"body": "whatever", "client_msg_id": "same-id"}, headers=pair.owner.headers
    )
    assert resp.status == 200
    assert (await resp.json())["seq"] == 1
    history = await (await messaging.get(url, headers=pair.tasker.headers)).json()
    assert [(m["seq"], m["body"]) for m in history["items"]] == [(1, "first"), (2, "second")]
    # The tasker saw each stored message once.
    assert await messages_until(tasker, 2) == [1, 2]
    # The same client_msg_id from the other participant is their own message.
    await tasker.send(send_frame(pair.id, "mine", "same-id"))
    assert (await tasker.until("ack"))["seq"] == 3


async def test_a_message_sent_over_rest_reaches_sockets_on_both_replicas(
    start_messaging: StartApp, open_conversation, connect: Connect
) -> None:
    a, b = await start_messaging(), await start_messaging()
    pair = await open_conversation()
    on_a = await connect(a, pair.tasker)
    on_b = await connect(b, pair.tasker)
    await on_a.subscribe(pair.id, since_seq=None)
    await on_b.subscribe(pair.id, since_seq=None)
    resp = await a.post(
        f"/messaging/conversations/{pair.id}/messages",
        json={"body": "over REST", "client_msg_id": "r1"},
        headers=pair.owner.headers,
    )
    assert resp.status == 201
    for sock in (on_a, on_b):
        frame = await sock.until("message")
        assert (frame["seq"], frame["body"]) == (1, "over REST")


async def test_a_replay_longer_than_the_socket_queue_paces_itself(
    start_messaging: StartApp, open_conversation, connect: Connect
) -> None:
    server = await start_messaging(ws_send_queue=16, replay_page=50)
    pair = await open_conversation()
    sender = await connect(server, pair.owner)
    for k in range(300):
        await sender.send(send_frame(pair.id, f"m{k}", f"k{k}"))
    while sum(f["type"] == "ack" for f in sender.seen) < 300:
        await sender.until("ack")
    # The same tasker is live in another conversation that keeps talking during the replay:
    # the replay must leave room for that traffic instead of filling the queue itself.
    other = await open_conversation(tasker=pair.tasker)
    late = await connect(server, pair.tasker)
    await late.subscribe(other.id, since_seq=None)
    chatter = await connect(server, other.owner)

    async def chat() -> None:
        for k in range(40):
            await chatter.send(send_frame(other.id, f"c{k}", f"c{k}"))
            await asyncio.sleep(0.005)

    chatting = asyncio.create_task(chat())
    await late.send({"type": "subscribe", "conversation_id": str(pair.id), "since_seq": 0})
    by_conversation: dict[str, list[int]] = {str(pair.id): [], str(other.id): []}
    while sum(len(v) for v in by_conversation.values()) < 340:
        frame = await late.recv(wait_s=10)
        assert frame["type"] != "error", frame
        if frame["type"] == "message":
            by_conversation[frame["conversation_id"]].append(frame["seq"])
    await chatting
    assert by_conversation[str(pair.id)] == list(range(1, 301))
    assert by_conversation[str(other.id)] == list(range(1, 41))


async def test_a_message_missing_from_nats_is_read_back_in_order(
    start_messaging: StartApp, open_conversation, connect: Connect, uow
) -> None:
    """Seqs 1-3 are stored without any broadcast (as if NATS lost them); seq 4 arrives on
    NATS; the replica holds it, reads 1-3 from the database, then releases 1, 2, 3, 4."""
    a, b = await start_messaging(fanout_gap_s=0.1), await start_messaging()
    pair = await open_conversation()
    reader = await connect(a, pair.tasker)
    await reader.subscribe(pair.id, since_seq=None)
    for k in range(3):
        cmd = SendMessage(pair.id, pair.owner.id, f"lost {k}", f"lost-{k}")
        await send_message(uow(), cmd, datetime.now(UTC), NoFanout())
    resp = await b.post(
        f"/messaging/conversations/{pair.id}/messages",
        json={"body": "arrives", "client_msg_id": "x"},
        headers=pair.owner.headers,
    )
    assert resp.status == 201
    assert await messages_until(reader, 4, wait_s=5) == [1, 2, 3, 4]
    metrics = await (await a.get("/metrics")).text()
    repaired = [ln for ln in metrics.splitlines() if ln.startswith("messaging_gap_repairs_total")]
    assert float(repaired[0].split()[-1]) >= 3
