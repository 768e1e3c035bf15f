"""Stream retention by setting, over a real nats-server: the owner brings its stream to its
max age and size cap (and back), other services never change a stream they do not own, and
the dead-letter stream keeps the longest age any service asks for."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable

import nats
import pytest
from nats.aio.client import Client as NATS

from chore_common.bus.cli import run
from chore_common.bus.streams import ensure_streams
from chore_common.testing.nats import NatsServer

DAY = 24 * 3600


@pytest.fixture
def server(nats_factory: Callable[[], NatsServer]) -> NatsServer:
    return nats_factory()


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(server.url)
    yield client
    await client.close()


async def limits(nc: NATS, stream: str) -> tuple[float, int]:
    config = (await nc.jetstream().stream_info(stream)).config
    return config.max_age or 0, config.max_bytes or -1


async def test_defaults_are_a_week_and_no_size_cap(nc: NATS) -> None:
    await ensure_streams(nc.jetstream(), owner="TASKS")
    assert await limits(nc, "TASKS") == (7 * DAY, -1)
    assert await limits(nc, "DLQ") == (30 * DAY, -1)


async def test_the_owner_updates_an_existing_stream_both_ways(server: NatsServer, nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_streams(js, owner="TASKS")
    await ensure_streams(js, owner="TASKS", max_age_s=90 * DAY, max_bytes=50_000_000)
    assert await limits(nc, "TASKS") == (90 * DAY, 50_000_000)
    out = io.StringIO()
    assert await run(["--nats-url", server.url, "streams"], out=out) == 0
    tasks_line = next(line for line in out.getvalue().splitlines() if line.startswith("TASKS"))
    assert f"max_age_s={90 * DAY} max_bytes=50000000" in tasks_line
    await ensure_streams(js, owner="TASKS", max_age_s=7 * DAY)
    assert await limits(nc, "TASKS") == (7 * DAY, -1)


async def test_other_services_leave_a_stream_they_do_not_own_alone(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_streams(js, owner="TASKS", max_age_s=90 * DAY, max_bytes=50_000_000)
    await ensure_streams(js, owner="AUTH", max_age_s=DAY)  # auth's setting, not tasks'
    assert await limits(nc, "TASKS") == (90 * DAY, 50_000_000)
    assert await limits(nc, "AUTH") == (DAY, -1)


async def test_a_missing_stream_is_created_by_whoever_starts_first(nc: NATS) -> None:
    await ensure_streams(nc.jetstream(), owner="MESSAGING")
    names = {info.config.name for info in await nc.jetstream().streams_info()}
    assert names == {"AUTH", "TASKS", "MESSAGING", "DLQ"}


async def test_dead_letters_keep_the_longest_age_asked_for(nc: NATS) -> None:
    js = nc.jetstream()
    await ensure_streams(js, owner="TASKS", max_age_s=90 * DAY)
    await ensure_streams(js, owner="AUTH")
    assert (await limits(nc, "DLQ"))[0] == 90 * DAY
