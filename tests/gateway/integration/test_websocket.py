"""WebSockets through the gateway: both directions, subprotocol, close codes both ways."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from .conftest import StartGateway, StartUpstream


def _ws_url(gw, path: str = "/messaging/ws") -> str:  # type: ignore[no-untyped-def]
    return str(gw.make_url(path)).replace("http://", "ws://")


async def test_messages_flow_both_ways_and_the_subprotocol_is_forwarded(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    async with http.ws_connect(
        _ws_url(gw), protocols=("bearer", "the.jwt.token"), headers={"X-Request-ID": "ws-1"}
    ) as ws:
        assert ws.protocol == "bearer"
        assert await ws.receive_str(timeout=2) == "hello from messaging; token=the.jwt.token"
        await ws.send_str("hi")
        assert await ws.receive_str(timeout=2) == "echo:hi"
        await ws.send_bytes(b"\x00\x01\x02")
        assert await ws.receive_bytes(timeout=2) == b"\x02\x01\x00"


async def test_upstream_close_code_and_reason_reach_the_client(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    async with http.ws_connect(_ws_url(gw), protocols=("bearer", "t")) as ws:
        await ws.receive_str(timeout=2)
        await ws.send_str("close:4401:session revoked")
        msg = await ws.receive(timeout=2)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 4401
        assert msg.extra == "session revoked"
    assert ws.close_code == 4401


@pytest.mark.parametrize("code", [1000, 1013, 4000])
async def test_client_close_code_reaches_the_upstream(
    start_upstream: StartUpstream,
    start_gateway: StartGateway,
    http: aiohttp.ClientSession,
    code: int,
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    ws = await http.ws_connect(_ws_url(gw), protocols=("bearer", "t"))
    await ws.receive_str(timeout=2)
    await ws.close(code=code, message=b"bye")
    seen_code, _ = await asyncio.wait_for(up.ws_closes.get(), 2)
    assert seen_code == code
    assert ws.close_code == code  # the close handshake completed: the gateway answered


async def test_upstream_going_away_closes_the_client(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    async with http.ws_connect(_ws_url(gw), protocols=("bearer", "t")) as ws:
        await ws.receive_str(timeout=2)
        await ws.send_str("drop")  # the upstream's connection ends with no close frame
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.CLOSE
        assert msg.data == 1014  # bad gateway
    assert ws.close_code == 1014


async def test_websocket_goes_round_robin_and_skips_a_dead_address(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    a, b = await start_upstream("a"), await start_upstream("b")
    gw = await start_gateway({"messaging": [a, b]})
    greetings = set()
    for _ in range(2):
        async with http.ws_connect(_ws_url(gw), protocols=("bearer", "t")) as ws:
            greetings.add(await ws.receive_str(timeout=2))
    assert greetings == {"hello from a; token=t", "hello from b; token=t"}
    await b.stop()
    for _ in range(3):
        async with http.ws_connect(_ws_url(gw), protocols=("bearer", "t")) as ws:
            assert await ws.receive_str(timeout=2) == "hello from a; token=t"


async def test_upstream_refusing_the_upgrade_gives_its_status(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await http.ws_connect(_ws_url(gw, "/messaging/no-such-socket"))
    assert caught.value.status == 404


async def test_gateway_shutdown_closes_open_sockets_with_going_away(
    start_upstream: StartUpstream, start_gateway: StartGateway, http: aiohttp.ClientSession
) -> None:
    up = await start_upstream("messaging")
    gw = await start_gateway({"messaging": [up]})
    ws = await http.ws_connect(_ws_url(gw), protocols=("bearer", "t"))
    await ws.receive_str(timeout=2)
    closing = asyncio.create_task(gw.server.close())
    msg = await ws.receive(timeout=5)
    assert msg.type is aiohttp.WSMsgType.CLOSE
    assert msg.data == 1001
    seen_code, _ = await asyncio.wait_for(up.ws_closes.get(), 5)
    assert seen_code == 1001
    await asyncio.wait_for(closing, 5)  # not held for the whole grace period
