"""Real WebSockets to real messaging replicas, for the tests that end sessions in auth and
watch the sockets close (the pattern of tests/messaging/integration/test_security.py S3)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp

from .helpers import Client


class Sockets:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http

    async def open(self, replica: Client, token: str) -> aiohttp.ClientWebSocketResponse:
        """A socket the replica answered a ping on: it is open and authenticated."""
        url = str(replica.make_url("/messaging/ws"))
        ws = await self.http.ws_connect(url, protocols=("bearer", token))
        await ws.send_json({"type": "ping"})
        while True:
            msg = await ws.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.TEXT, msg
            if json.loads(msg.data).get("type") == "pong":
                return ws


async def close_code(ws: aiohttp.ClientWebSocketResponse, wait_s: float = 3.0) -> int | None:
    """Read until the server closes the socket; its close code (None if it never did)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        try:
            msg = await ws.receive(timeout=max(0.01, deadline - loop.time()))
        except TimeoutError:
            return None
        if msg.type is aiohttp.WSMsgType.CLOSE:
            return int(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return ws.close_code
    return None


async def still_open(ws: aiohttp.ClientWebSocketResponse) -> bool:
    await ws.send_json({"type": "ping"})
    msg = await ws.receive(timeout=5)
    return msg.type is aiohttp.WSMsgType.TEXT and json.loads(msg.data).get("type") == "pong"


@asynccontextmanager
async def sockets() -> AsyncIterator[Sockets]:
    async with aiohttp.ClientSession() as http:
        yield Sockets(http)
