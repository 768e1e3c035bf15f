"""A client's own faults (hanging up mid-body, uploading slowly) are answered or dropped at
the gateway and never count against an upstream's breaker; the upstream's time starts once
the body is in; only the upstream's own failures open a breaker."""

from __future__ import annotations

import asyncio
import json

from chore_gateway.domain.breaker import BreakerState
from chore_gateway.keys import PROXY

from .conftest import Client, StartGateway, StartUpstream
from .gateway_process import read_answer

ATTACKS = 20


def _breaker(gw: Client, index: int = 0) -> tuple[BreakerState, int]:
    breaker = gw.server.app[PROXY].pools["tasks"].addresses[index].breaker
    return breaker.state, breaker.failures


async def _hang_up_mid_body(port: int, data: bytes) -> None:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(data)
    await writer.drain()
    await asyncio.sleep(0.05)
    writer.close()
    await asyncio.sleep(0.01)


async def test_hanging_up_mid_body_never_touches_the_breaker(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, breaker_failures=1)
    port = gw.server.port
    assert port is not None
    small = b"POST /tasks/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"
    sized = b"POST /tasks/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
    # Past the 64 KiB the gateway buffers: this one is already streaming to the upstream.
    big = (
        b"POST /tasks/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"10000\r\n" + b"z" * 0x10000 + b"\r\n" + b"10000\r\n" + b"z" * 1000
    )  # fmt: skip
    for data in (small, sized, big):
        for _ in range(ATTACKS):
            await _hang_up_mid_body(port, data)
    await asyncio.sleep(0.2)
    assert _breaker(gw) == (BreakerState.CLOSED, 0)
    # Small bodies never left the gateway; the big ones did, and were cut there.
    assert up.arrived == ATTACKS
    assert up.seen == []
    resp = await gw.post("/tasks/echo", json={"still": "served"})
    assert resp.status == 200


async def test_a_slow_upload_gets_408_and_the_upstream_is_not_blamed(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway(
        {"tasks": [up]},
        breaker_failures=1,
        upstream_timeout_s=0.3,
        client_body_timeout_s=0.6,
    )
    port = gw.server.port
    assert port is not None
    small = b"POST /tasks/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc"
    big = (
        b"POST /tasks/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        + b"10000\r\n" + b"z" * 0x10000 + b"\r\n" + b"100\r\n" + b"z" * 10
    )  # fmt: skip
    for data in (small, big):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(data)
            await writer.drain()
            answer = await read_answer(reader, wait_s=3, see_close=False)
        finally:
            writer.close()
        assert answer.status == 408
        body = json.loads(answer.body)
        assert body["code"] == "body_timeout"
        # The rest of the body would otherwise be read as the next request.
        assert answer.headers["connection"] == "close"
    assert _breaker(gw) == (BreakerState.CLOSED, 0)
    assert (await gw.get("/tasks/echo")).status == 200


async def test_the_upstream_deadline_starts_once_the_body_is_in(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway(
        {"tasks": [up]}, breaker_failures=1, upstream_timeout_s=0.4, client_body_timeout_s=2
    )

    async def dribble():  # type: ignore[no-untyped-def]  # 1 s in all, longer than 0.4 s
        for _ in range(5):
            await asyncio.sleep(0.2)
            yield b" " * 10

    resp = await gw.post("/tasks/upload", data=dribble())
    assert resp.status == 200
    assert (await resp.json())["received"] == 50
    assert _breaker(gw) == (BreakerState.CLOSED, 0)


async def test_a_500_is_one_requests_bug_and_does_not_open_the_breaker(
    start_upstream: StartUpstream, start_gateway: StartGateway
) -> None:
    up = await start_upstream("tasks")
    gw = await start_gateway({"tasks": [up]}, breaker_failures=3)
    up.failing = True  # 500: what a bug (say, an input nobody validated) gives
    statuses = [(await gw.get("/tasks/echo")).status for _ in range(10)]
    assert statuses == [500] * 10
    assert len(up.seen) == 10
    assert _breaker(gw)[0] is BreakerState.CLOSED
    up.fail_status = 503  # the service says a dependency failed it: that counts
    statuses = [(await gw.get("/tasks/echo")).status for _ in range(4)]
    assert statuses == [503, 503, 503, 503]
    assert len(up.seen) == 13  # the fourth was refused by the open breaker
    assert _breaker(gw)[0] is BreakerState.OPEN
