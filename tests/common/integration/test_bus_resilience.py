"""NATS and database outages: nothing lost, nothing doubled, readiness tells the truth."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import asyncpg
import pytest
from aiohttp import web
from common import busapp
from common.busapp import applied, open_bus, wait_until, write_pings

from chore_common.bus.connection import (
    DRAIN_TIMEOUT_S,
    FLUSH_AFTER_DRAIN_S,
    NATS_CLIENT,
    nats_context,
)
from chore_common.db import ENGINE, db_context
from chore_common.keys import READINESS
from chore_common.outbox.relay import Relay
from chore_common.readiness import Readiness
from chore_common.settings import ServiceSettings
from chore_common.testing.databases import PG_ADMIN_URL
from chore_common.testing.nats import NatsServer


@pytest.mark.db
async def test_nats_restart_mid_stream_delivers_everything_exactly_once(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="r3", poll_interval_s=0.1, ack_timeout_s=1.0)
        relay.start()
        consumer = busapp.consumer(bus.js, bus.engine, "r3-applier")
        consumer.start()
        writer = asyncio.create_task(
            write_pings(bus.engine, 1000, per_tx=10, wake=relay.wake, pause_s=0.005)
        )
        try:
            await wait_until(lambda: _applied_at_least(bus, 50))
            await asyncio.to_thread(server.stop)  # same port and store on restart
            await asyncio.sleep(0.5)  # writes go on while NATS is away
            await asyncio.to_thread(server.start)
            await writer
            await wait_until(lambda: _applied_at_least(bus, 1000), timeout_s=30)
            await asyncio.sleep(0.3)  # room for a late duplicate to show up
        finally:
            await consumer.stop()
            await relay.stop()
        rows, distinct = await applied(bus.engine)
    assert distinct == 1000, "events lost"
    assert rows == 1000, "events applied twice"


async def _applied_at_least(bus: busapp.Bus, count: int) -> bool:
    return (await applied(bus.engine))[1] >= count


@asynccontextmanager
async def started(settings: ServiceSettings) -> AsyncIterator[web.Application]:
    """An app with the database and NATS contexts, started as a service starts them."""
    app = web.Application()
    app[READINESS] = Readiness(timeout_s=1.0)
    app.cleanup_ctx.append(db_context(settings))
    app.cleanup_ctx.append(nats_context(settings))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app
    finally:
        await runner.cleanup()


async def readiness_is(app: web.Application, name: str, ok: bool) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        report = await app[READINESS].run()
        return (report[name] == "ok") is ok

    return probe


async def test_nats_readiness_fails_while_the_server_is_down_and_passes_after(
    nats_factory: Callable[[], NatsServer], tmp_path: object
) -> None:
    server = nats_factory()
    settings = ServiceSettings(nats_url=server.url, database_url="sqlite+aiosqlite://")
    async with started(settings) as app:
        assert await (await readiness_is(app, "nats", True))()
        await asyncio.to_thread(server.stop)
        await wait_until(await readiness_is(app, "nats", False), timeout_s=10)
        assert not Readiness.is_ready(await app[READINESS].run())
        await asyncio.to_thread(server.start)
        await wait_until(await readiness_is(app, "nats", True), timeout_s=10)
        assert app[NATS_CLIENT].is_connected


@pytest.mark.db
async def test_database_readiness_fails_while_postgres_refuses_and_passes_after(
    nats_server: NatsServer, database_url: str, db_backend: str
) -> None:
    if db_backend != "postgres":
        pytest.skip("an embedded SQLite file cannot be taken down from outside")
    name = urlsplit(database_url).path.lstrip("/")
    settings = ServiceSettings(nats_url=nats_server.url, database_url=database_url)
    async with started(settings) as app:
        assert await (await readiness_is(app, "database", True))()
        await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name
        )
        try:
            await wait_until(await readiness_is(app, "database", False), timeout_s=10)
        finally:
            await _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await wait_until(await readiness_is(app, "database", True), timeout_s=10)
        assert app[ENGINE] is not None


async def _admin(sql: str, *args: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await conn.execute(sql, *args)
    finally:
        await conn.close()


async def _ignore(msg: object) -> None:
    return None


async def test_a_service_whose_nats_died_still_stops_cleanly(
    nats_factory: Callable[[], NatsServer],
) -> None:
    server = nats_factory()
    settings = ServiceSettings(nats_url=server.url, database_url="sqlite+aiosqlite://")
    async with started(settings) as app:
        await app[NATS_CLIENT].subscribe("anything.>", cb=_ignore)  # drain has work to do
        await asyncio.to_thread(server.stop, True)  # killed, not stopped politely
        await wait_until(await readiness_is(app, "nats", False), timeout_s=10)
    # Leaving `started` ran the cleanup: reaching this line means no exception escaped it.
    assert app[NATS_CLIENT].is_closed


async def test_a_subscriber_stuck_in_its_callback_holds_the_stop_no_longer_than_the_drain_limit(
    nats_factory: Callable[[], NatsServer],
) -> None:
    server = nats_factory()
    settings = ServiceSettings(nats_url=server.url, database_url="sqlite+aiosqlite://")
    stuck = asyncio.Event()

    async def never_returns(msg: object) -> None:
        stuck.set()
        await asyncio.Event().wait()

    async with started(settings) as app:
        nc = app[NATS_CLIENT]
        await nc.subscribe("stuck", cb=never_returns)
        await nc.publish("stuck", b"x")
        await asyncio.wait_for(stuck.wait(), 5)
        stop_began = time.monotonic()
    stopped_in = time.monotonic() - stop_began
    assert nc.is_closed
    # The drain gives up on the callback at its limit, and the connection is closed.
    assert stopped_in < DRAIN_TIMEOUT_S + FLUSH_AFTER_DRAIN_S + 1.0, stopped_in
