"""A database that cannot be reached, or has no free connection, is the client's 503 with
Retry-After (come back), not a 500 (our bug); the log says why, without a traceback each."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine
from chore_common.testing.databases import PG_ADMIN_URL
from chore_common.testing.demo_app import DemoSettings, create_app
from chore_common.testing.nats import free_port

pytestmark = pytest.mark.db

ENGINE = web.AppKey("test.engine", AsyncEngine)
HOLDING = web.AppKey("test.holding", asyncio.Event)
RELEASE = web.AppKey("test.release", asyncio.Event)


async def query(request: web.Request) -> web.Response:
    async with request.app[ENGINE].connect() as conn:
        value = (await conn.execute(text("SELECT 1"))).scalar_one()
    return web.json_response({"value": value})


async def hold(request: web.Request) -> web.Response:
    """Keeps its connection until the test says so: the pool's only one."""
    async with request.app[ENGINE].connect() as conn:
        await conn.execute(text("SELECT 1"))
        request.app[HOLDING].set()
        await request.app[RELEASE].wait()
    return web.json_response({"held": True})


Client = TestClient[web.Request, web.Application]


async def client_for(engine: AsyncEngine) -> AsyncIterator[Client]:
    app = create_app(DemoSettings())
    app[ENGINE] = engine
    app[HOLDING] = asyncio.Event()
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/query", query)
    app.router.add_get("/hold", hold)
    async with TestClient(TestServer(app)) as client:
        yield client
    await engine.dispose()


async def test_a_database_nobody_answers_on_is_503_with_retry_after(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dead = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone")
    async for client in client_for(dead):
        response = await client.get("/query")
        body = await response.json(content_type=None)
        assert response.status == 503
        assert response.headers["Retry-After"] == "1"
        assert response.content_type == "application/problem+json"
        assert body["code"] == "database_unavailable"
        assert "Errno" not in body["detail"]  # the cause stays in the log
    logged = capsys.readouterr().out
    assert '"event":"http.dependency_unavailable"' in logged
    assert "Traceback" not in logged


async def test_a_pool_with_no_free_connection_is_503_then_serves_again(
    database_url: str, db_backend: str
) -> None:
    if db_backend != "postgres":
        pytest.skip("SQLite serialises on its write lock, not on a connection pool")
    engine = create_engine(database_url, pool_size=1, pool_timeout_s=0.2)
    async for client in client_for(engine):
        app = client.server.app
        assert app is not None
        holder = asyncio.create_task(client.get("/hold"))
        await asyncio.wait_for(app[HOLDING].wait(), 10)

        busy = await client.get("/query")
        assert busy.status == 503
        assert busy.headers["Retry-After"] == "1"
        assert (await busy.json(content_type=None))["code"] == "database_busy"

        app[RELEASE].set()
        assert (await holder).status == 200
        again = await client.get("/query")
        assert again.status == 200
        assert await again.json() == {"value": 1}


async def test_pooled_connections_a_database_restart_killed_cost_one_503_then_it_serves(
    database_url: str, db_backend: str
) -> None:
    if db_backend != "postgres":
        pytest.skip("an embedded SQLite file has no server to restart")
    # No pre-ping at checkout (engine.py): the request that finds its connection dead gets
    # the 503, and every other connection pooled before it is dropped, not tried in turn.
    engine = create_engine(database_url, pool_size=4)
    async for client in client_for(engine):
        warm = await asyncio.gather(*(client.get("/query") for _ in range(4)))
        assert [r.status for r in warm] == [200] * 4  # four pooled connections
        assert await _terminate_backends(urlsplit(database_url).path.lstrip("/")) >= 2

        first = await client.get("/query")
        assert first.status == 503
        assert first.headers["Retry-After"] == "1"
        assert (await first.json(content_type=None))["code"] == "database_unavailable"
        after = [(await client.get("/query")).status for _ in range(5)]
        assert after == [200] * 5  # the other dead connections were never handed out


async def _terminate_backends(database: str) -> int:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        killed = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = $1 AND pid <> pg_backend_pid()",
            database,
        )
    finally:
        await conn.close()
    return len(killed)
