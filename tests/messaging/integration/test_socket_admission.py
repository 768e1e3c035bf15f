"""Issue 27: a replica at its socket cap refuses with 1013 and a retry hint; an idle socket
holds no task and no queue (what lets one replica keep 10,000 of them)."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from chore_common.testing.apps import StartApp
from chore_messaging.adapters.sockets import SocketRegistry
from chore_messaging.keys import SOCKETS

from .conftest import Client, Connect, Socket
from .test_ordering import send_frame

pytestmark = pytest.mark.db


async def still_serves(sock: Socket) -> None:
    await sock.send({"type": "ping"})
    assert (await sock.until("pong"))["type"] == "pong"


def writer_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "ws-writer" and not t.done()]


async def test_a_replica_at_its_socket_cap_closes_the_next_one_1013_with_a_retry_hint(
    start_messaging: StartApp, issuer, connect: Connect
) -> None:
    server = await start_messaging(ws_max_sockets=3, ws_retry_after_s=7)
    held = [await connect(server, issuer.user("client")) for _ in range(3)]
    for sock in held:
        await still_serves(sock)
    extra = await connect(server, issuer.user("tasker"))
    msg = await extra.ws.receive(timeout=5)
    assert (msg.type, msg.data) == (aiohttp.WSMsgType.CLOSE, 1013)
    assert msg.extra == "replica full: retry-after=7"
    for sock in held:
        await still_serves(sock)  # the refused one took nothing from the others
    await held[0].close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:  # a freed place is given back once the closed socket's handler has ended
        again = await connect(server, issuer.user("client"))
        await again.send({"type": "ping"})
        msg = await again.ws.receive(timeout=5)
        if msg.type is aiohttp.WSMsgType.TEXT:
            break
        assert loop.time() < deadline, "a freed place was never given back"
        await asyncio.sleep(0.05)


async def test_a_socket_with_nothing_to_write_holds_no_writer_task_nor_queue(
    messaging: Client, open_conversation, connect: Connect
) -> None:
    pair = await open_conversation()
    owner = await connect(messaging, pair.owner)
    tasker = await connect(messaging, pair.tasker)
    await owner.subscribe(pair.id)
    await tasker.subscribe(pair.id)
    for i in range(20):  # frames delivered to both, acks to the sender
        await tasker.send(send_frame(pair.id, f"hello {i}", f"c{i}"))
        await owner.until("message", seq=i + 1)
        await tasker.until("ack", client_msg_id=f"c{i}")
    await still_serves(owner)
    registry = messaging.app[SOCKETS]
    assert isinstance(registry, SocketRegistry)
    conns = [c for c in registry.connections if hasattr(c, "writing")]
    assert len(conns) == 2
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while writer_tasks() or any(c.writing or c.queue is not None for c in conns):
        assert loop.time() < deadline, "an idle socket kept its writer or its queue"
        await asyncio.sleep(0.02)
