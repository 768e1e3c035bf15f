"""WebSockets through the gateway when a peer misbehaves: a client that does not read, a close
in the middle of a flood, an upgrade where there is no WebSocket."""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestServer

from .conftest import StartGateway, StartUpstream

PAYLOAD = "x" * 4096


@dataclass
class Misbehaving:
    """An upstream whose /messaging/ws either pours `pour` messages of 4 KiB into the socket as
    fast as it is let, or (`close_after`) closes 1008 after that many client frames, the way
    messaging closes a flood."""

    pour: int = 0
    close_after: int = 0
    closes: asyncio.Queue[tuple[int | None, str]] = field(default_factory=asyncio.Queue)
    server: TestServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.port}"

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        pouring = asyncio.create_task(self._pour(ws)) if self.pour else None
        seen, closed = 0, (None, "")
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.TEXT:
                seen += 1
                if seen == self.close_after:
                    await ws.close(code=1008, message=b"rate limit exceeded", drain=False)
                    closed = (1008, "")
                    break
            elif msg.type is WSMsgType.CLOSE:  # the gateway closed: what it said
                closed = (int(msg.data), str(msg.extra or ""))
                break
            else:
                break
        if pouring is not None:
            pouring.cancel()
        await self.closes.put(closed)
        return ws

    async def _pour(self, ws: web.WebSocketResponse) -> None:
        try:
            for _ in range(self.pour):
                await ws.send_str(PAYLOAD)
        except ConnectionError:
            pass

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/readyz", _ready)
        app.router.add_get("/messaging/ws", self.websocket)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()


async def _ready(request: web.Request) -> web.Response:
    return web.json_response({"ready": True})


@pytest.fixture
async def misbehaving() -> AsyncIterator[Callable[..., Misbehaving]]:
    made: list[Misbehaving] = []

    def make(**kw: int) -> Misbehaving:
        made.append(Misbehaving(**kw))
        return made[-1]

    yield make
    for upstream in made:
        if upstream.server is not None:
            await upstream.server.close()


def _ws_url(gw, path: str = "/messaging/ws") -> str:  # type: ignore[no-untyped-def]
    return str(gw.make_url(path)).replace("http://", "ws://")


def tcp_state(local: tuple[str, int], remote_port: int) -> str | None:
    """The kernel's state of our end of a connection (None: gone, e.g. after a reset)."""
    states = {"01": "ESTABLISHED", "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT"}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local_port = int(fields[1].split(":")[1], 16)
        peer_port = int(fields[2].split(":")[1], 16)
        if local_port == local[1] and peer_port == remote_port:
            return states.get(fields[3], fields[3])
    return None


async def test_a_client_that_does_not_read_is_ended_and_its_upstream_closed(
    misbehaving: Callable[..., Misbehaving],
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
) -> None:
    up = misbehaving(pour=20_000)  # 80 MiB: far more than every buffer on the way holds
    await up.start()
    gw = await start_gateway({"messaging": [up.url]}, ws_stall_s=0.5)
    stuck = await http.ws_connect(_ws_url(gw))
    local = stuck.get_extra_info("sockname")
    # Reads nothing from here on: aiohttp stops taking bytes off the socket at 128 KiB.
    code, reason = await asyncio.wait_for(up.closes.get(), 15)
    assert (code, reason) == (1001, "client too slow")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while tcp_state(local, gw.port) == "ESTABLISHED":  # type: ignore[arg-type]
        assert loop.time() < deadline, "the gateway still holds the connection"
        await asyncio.sleep(0.05)
    # What reached the client before the cut, then the end: never all 20,000 messages.
    got = 0
    while (msg := await stuck.receive(timeout=5)).type is WSMsgType.TEXT:
        got += 1
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR)
    assert got < 20_000


async def test_a_client_that_reads_slowly_but_steadily_keeps_its_socket(
    misbehaving: Callable[..., Misbehaving],
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
) -> None:
    up = misbehaving(pour=3000)  # 12 MiB
    await up.start()
    gw = await start_gateway({"messaging": [up.url]}, ws_stall_s=2)
    async with http.ws_connect(_ws_url(gw)) as ws:
        for n in range(3000):
            assert (await ws.receive_str(timeout=5)) == PAYLOAD
            if n % 50 == 0:
                await asyncio.sleep(0.01)  # slower than the upstream writes
    # The client's own close, not the gateway's "client too slow".
    assert await asyncio.wait_for(up.closes.get(), 5) == (1000, "")


async def test_a_close_during_a_flood_reaches_the_client_with_its_code_and_reason(
    misbehaving: Callable[..., Misbehaving], start_gateway: StartGateway
) -> None:
    up = misbehaving(close_after=90)
    await up.start()
    # A health check slowed by the flood must not take the only address out of the pool.
    gw = await start_gateway({"messaging": [up.url]}, health_timeout_s=10)
    # The client floods from a thread of its own, as from another process: its frames keep
    # arriving while the gateway closes, which is what turned the close into a reset.
    ends = await asyncio.to_thread(asyncio.run, _flood_until_closed(_ws_url(gw), times=10))
    assert ends == [(WSMsgType.CLOSE, 1008, "rate limit exceeded")] * 10


async def _flood_until_closed(url: str, times: int) -> list[tuple[WSMsgType, object, object]]:
    ends = []
    async with aiohttp.ClientSession() as http:
        for _ in range(times):  # the loss was a race: once in two to five tries
            ws = await http.ws_connect(url)

            async def flood(ws: aiohttp.ClientWebSocketResponse = ws) -> None:
                try:
                    while True:
                        for _ in range(50):
                            await ws.send_str('{"type":"ping"}')
                        await asyncio.sleep(0)
                except ConnectionError:
                    pass  # the socket closed under the flood

            flooding = asyncio.create_task(flood())
            msg = await ws.receive(timeout=10)
            flooding.cancel()
            ends.append((msg.type, msg.data, msg.extra))
            await ws.close()
    return ends


def _upgrade_headers() -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }


async def test_an_upgrade_on_a_plain_http_route_is_a_400_problem(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(_ws_url(gw, "/messaging/echo"))
    assert caught.value.status == 400
    async with http.get(gw.make_url("/messaging/echo"), headers=_upgrade_headers()) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        problem = await response.json()
    assert problem["code"] == "websocket_not_supported"
    assert "/messaging/echo" in problem["detail"]


@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("POST", {}),  # a WebSocket handshake is a GET
        ("GET", {"Sec-WebSocket-Key": "not-a-key"}),
        ("GET", {"Sec-WebSocket-Version": "12"}),
        ("GET", {"Connection": "keep-alive"}),
    ],
)
async def test_an_invalid_handshake_is_a_400_problem_and_reaches_no_upstream(
    start_upstream: StartUpstream,
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
    method: str,
    change: dict[str, str],
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    headers = {**_upgrade_headers(), **change}
    async with http.request(method, gw.make_url("/messaging/echo"), headers=headers) as response:
        assert response.status == 400
        assert response.content_type == "application/problem+json"
        assert (await response.json())["code"] == "invalid_websocket_handshake"
    assert up.seen == []


async def test_a_gateway_at_its_socket_cap_closes_the_next_one_1013_with_a_retry_hint(
    misbehaving: Callable[..., Misbehaving],
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
) -> None:
    up = misbehaving()
    await up.start()
    gw = await start_gateway({"messaging": [up.url]}, ws_max_sockets=2, ws_retry_after_s=9)
    held = [await http.ws_connect(_ws_url(gw), protocols=("bearer",)) for _ in range(2)]
    extra = await http.ws_connect(_ws_url(gw), protocols=("bearer",))
    assert extra.protocol == "bearer"  # the browser's handshake succeeds: it sees the close
    msg = await extra.receive(timeout=5)
    assert (msg.type, msg.data, msg.extra) == (WSMsgType.CLOSE, 1013, "gateway full: retry-after=9")
    assert up.closes.empty()  # the refused socket never reached the upstream
    for ws in held:
        assert not ws.closed
    await held[0].close()
    assert await asyncio.wait_for(up.closes.get(), 5) == (1000, "")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while True:  # the freed place is given back once the splice has ended
        again = await http.ws_connect(_ws_url(gw), protocols=("bearer",))
        try:
            msg = await again.receive(timeout=0.3)
        except TimeoutError:
            break  # held open: admitted
        assert msg.data == 1013
        assert loop.time() < deadline, "a freed place was never given back"
    await again.close()
    await held[1].close()


async def test_websockets_do_not_take_the_http_pools_connections(
    misbehaving: Callable[..., Misbehaving],
    start_upstream: StartUpstream,
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
) -> None:
    """Each upstream WebSocket holds its connection for its whole life: in a pool of 2 the
    third would wait until it timed out, and plain requests with it."""
    up = misbehaving()
    await up.start()
    tasks = await start_upstream("tasks")
    gw = await start_gateway(
        {"messaging": [up.url], "tasks": [tasks]}, upstream_connections=2, upstream_timeout_s=3
    )
    held = [await http.ws_connect(_ws_url(gw)) for _ in range(5)]
    for ws in held:
        await ws.send_str("still here")
        assert not ws.closed
    async with http.get(gw.make_url("/tasks/echo")) as resp:
        assert resp.status == 200  # plain requests still find a connection
    for ws in held:
        await ws.close()
