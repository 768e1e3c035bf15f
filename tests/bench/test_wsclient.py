"""The bench's WebSocket client sees exactly what a real aiohttp server sent; no speed is
asserted here."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import WSMsgType, web

# bench/ is a top-level folder of the repository, not an installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.wsclient import WsError, WsPool

SIZES = {"small": 5, "medium": 300, "large": 70_000}  # 7-bit, 16-bit and 64-bit lengths


class Server:
    def __init__(self) -> None:
        self.port = 0
        self.received: list[str] = []
        self.pongs = 0
        self.protocols: list[str | None] = []
        self.loop = asyncio.new_event_loop()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    """An aiohttp WebSocket app in a thread. A client's text frame is a command:
    `burst:<size>:<n>` sends n frames of that size at once, `ping` pings, `close` closes 4001;
    anything else is recorded."""
    made = Server()

    async def ws_handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("bearer",), autoping=False)
        await ws.prepare(request)
        made.protocols.append(ws.ws_protocol)
        async for msg in ws:
            if msg.type is WSMsgType.PONG:
                made.pongs += 1
            elif msg.type is WSMsgType.TEXT:
                made.received.append(msg.data)
                kind, _, rest = msg.data.partition(":")
                if kind == "burst":
                    size, n = rest.split(":")
                    for i in range(int(n)):
                        await ws.send_str(f"{i}:" + "x" * SIZES[size])
                elif kind == "ping":
                    await ws.ping(b"hi")
                    await ws.send_str("pinged")
                elif kind == "close":
                    await ws.close(code=4001)
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_handler)
    loop = made.loop
    runner = web.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    made.port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield made
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.run_until_complete(runner.cleanup())
    loop.close()


def test_many_sockets_handshake_with_the_subprotocol_and_send_masked_frames(
    server: Server,
) -> None:
    pool = WsPool()
    offers = [["bearer", f"t{i}"] for i in range(30)]
    sockets = pool.open("127.0.0.1", server.port, "/ws", offers, batch=7)
    try:
        assert len({ws.fd for ws in sockets}) == 30
        for i, ws in enumerate(sockets):
            ws.send_text(f"hello {i}")
        pool.drain(0.3)
        assert {f"hello {i}" for i in range(30)} <= set(server.received)
        assert server.protocols[-30:] == ["bearer"] * 30
    finally:
        pool.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_every_frame_of_a_burst_is_cut_out_whole(server: Server, size: str) -> None:
    pool = WsPool()
    (ws,) = pool.open("127.0.0.1", server.port, "/ws", [["bearer", "t"]])
    try:
        ws.send_text(f"burst:{size}:40")
        got = pool.collect(b"39:", {ws.fd}, 5.0)
        assert set(got) == {ws.fd}
        pool.drain(0.1)
        assert ws.texts == 40  # none lost, none glued together, none split
        assert not ws.buf
    finally:
        pool.close()


def test_pings_are_answered_and_a_close_is_reported_with_its_code(server: Server) -> None:
    pool = WsPool()
    (ws,) = pool.open("127.0.0.1", server.port, "/ws", [["bearer", "t"]])
    try:
        before = server.pongs
        ws.send_text("ping")
        pool.collect(b"pinged", {ws.fd}, 5.0)
        pool.drain(0.2)
        assert server.pongs == before + 1
        ws.send_text("close")
        with pytest.raises(WsError, match="4001"):
            pool.collect(b"never", {ws.fd}, 5.0)
        assert ws.close_code == 4001
    finally:
        pool.close()


def test_a_socket_that_gets_nothing_times_out_with_a_count(server: Server) -> None:
    pool = WsPool()
    sockets = pool.open("127.0.0.1", server.port, "/ws", [["bearer", "t"]] * 3)
    try:
        sockets[0].send_text("burst:small:1")
        with pytest.raises(WsError, match="2 of 3 sockets"):
            pool.collect(b"0:", {ws.fd for ws in sockets}, 0.5)
    finally:
        pool.close()
