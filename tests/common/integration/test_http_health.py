"""/healthz says the process answers; /readyz says its dependencies do, and recovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from chore_common.keys import READINESS
from chore_common.testing.demo_app import DemoSettings, create_app
from chore_common.testing.nats import NatsServer


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(create_app(DemoSettings()))) as client:
        yield client


async def test_healthz_is_ok(client: TestClient[web.Request, web.Application]) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_readyz_is_503_while_a_check_fails_and_200_after_without_restart(
    client: TestClient[web.Request, web.Application],
) -> None:
    up = {"db": False}

    async def database() -> None:
        if not up["db"]:
            raise ConnectionRefusedError("database down")

    client.app[READINESS].add("database", database)
    down = await client.get("/readyz")
    assert down.status == 503
    assert down.headers["Retry-After"] == "1"
    assert down.content_type == "application/problem+json"
    body = await down.json(content_type=None)
    assert body["code"] == "not_ready"
    assert body["checks"] == {"database": "down: ConnectionRefusedError"}

    up["db"] = True
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert await ready.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_follows_a_real_nats_server_going_down_and_up(
    client: TestClient[web.Request, web.Application],
    nats_factory: Callable[[], NatsServer],
) -> None:
    nats = nats_factory()

    async def nats_reachable() -> None:
        _, writer = await asyncio.open_connection("127.0.0.1", nats.port)
        writer.close()
        await writer.wait_closed()

    client.app[READINESS].add("nats", nats_reachable)
    assert (await client.get("/readyz")).status == 200
    nats.stop()
    assert (await client.get("/readyz")).status == 503
    nats.start()
    assert (await client.get("/readyz")).status == 200


async def test_a_hanging_check_times_out_as_not_ready(
    client: TestClient[web.Request, web.Application],
) -> None:
    async def hangs() -> None:
        await asyncio.sleep(30)

    readiness = client.app[READINESS]
    readiness.timeout_s = 0.05
    readiness.add("slow", hangs)
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json(content_type=None))["checks"] == {"slow": "timeout"}


async def test_readyz_is_503_once_shutting_down(
    client: TestClient[web.Request, web.Application],
) -> None:
    client.app[READINESS].shutting_down = True
    response = await client.get("/readyz")
    assert response.status == 503
    assert (await response.json(content_type=None))["checks"] == {"shutdown": "draining"}
    assert (await client.get("/healthz")).status == 200
