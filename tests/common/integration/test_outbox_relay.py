"""The outbox relay on a real nats-server and a real database (PostgreSQL or SQLite)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import timedelta

import pytest
from common import busapp
from common.busapp import Zygote, applied, open_bus, wait_until, write_pings
from nats.aio.msg import Msg
from prometheus_client import REGISTRY
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from chore_common.db import create_engine
from chore_common.outbox.relay import Relay
from chore_common.outbox.table import OUTBOX
from chore_common.testing.nats import NatsServer
from chore_common.uow import UnitOfWork

pytestmark = pytest.mark.db


async def unsent(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.sent_at.is_(None))
        return int((await conn.execute(query)).scalar_one())


@pytest.fixture
def consumer_db(database_factory: Callable[[], str]) -> str:
    """A second database: the consumer's own, apart from the producer's."""
    return database_factory()


async def test_relay_process_killed_five_times_loses_nothing_and_applies_nothing_twice(
    nats_factory: Callable[[], NatsServer], database_url: str, consumer_db: str
) -> None:
    server = nats_factory()
    producer_db = database_url
    async with (
        open_bus(server.url, producer_db) as producer,
        open_bus(server.url, consumer_db) as consuming,
    ):
        consumer = busapp.consumer(consuming.js, consuming.engine, "r1-applier")
        consumer.start()
        # Spread the writes over the whole kill sequence so kills land mid-publish.
        zygote = await Zygote().start()
        relay_args = ("relay", "--db", producer_db, "--nats", server.url)
        writer = asyncio.create_task(write_pings(producer.engine, 2000, per_tx=10, pause_s=0.004))
        rng = random.Random()
        for _ in range(5):
            pid = await zygote.fork(*relay_args)
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            await zygote.kill(pid)
        await writer
        last = await zygote.fork(*relay_args)
        try:
            await wait_until(lambda: _all_applied(consuming.engine, 2000), timeout_s=30)
            await wait_until(lambda: _zero(unsent(producer.engine)), timeout_s=10)
            await asyncio.sleep(0.3)  # room for a late duplicate to show up
        finally:
            await zygote.kill(last)
            await zygote.stop()
            await consumer.stop()
        rows, distinct = await applied(consuming.engine)
    assert distinct == 2000, "events lost"
    assert rows == 2000, "events applied twice"


async def _all_applied(engine: AsyncEngine, count: int) -> bool:
    return (await applied(engine))[1] >= count


async def _zero(value: asyncio.Future[int] | object) -> bool:
    return await value == 0  # type: ignore[misc]


async def _caught_up(relay: Relay) -> bool:
    return relay.caught_up


def recorded_claims(engine: AsyncEngine) -> list[str]:
    """Every claim query (a read of unsent rows) the relay makes on `engine` from now on."""
    claims: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if "FROM outbox" in statement and "ORDER BY outbox.id" in statement:
            claims.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    return claims


async def test_two_relays_on_postgres_publish_every_row_exactly_once(
    nats_factory: Callable[[], NatsServer], database_url: str, db_backend: str
) -> None:
    if db_backend != "postgres":
        pytest.skip("SKIP LOCKED claiming is PostgreSQL's; SQLite runs a single relay")
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        published: list[str] = []

        async def count(msg: Msg) -> None:
            # A core subscriber sees every publish, even duplicates the stream would drop.
            published.append((msg.headers or {}).get("Nats-Msg-Id", ""))

        await bus.nc.subscribe("tasks.test.>", cb=count)
        await write_pings(bus.engine, 3000, per_tx=100)
        engines = [create_engine(database_url), create_engine(database_url)]
        relays = [
            Relay(engine, bus.js, service=f"two-relays-{i}", batch_size=100, poll_interval_s=0.05)
            for i, engine in enumerate(engines)
        ]
        for relay in relays:
            relay.start()
        try:
            await wait_until(lambda: _zero(unsent(bus.engine)), timeout_s=20)
        finally:
            for relay in relays:
                await relay.stop()
            for engine in engines:
                await engine.dispose()
        await bus.nc.flush()
        info = await bus.js.stream_info("TASKS")
        async with bus.engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(OUTBOX))).scalar_one()
    assert rows == 3000
    assert info.state.messages == rows
    assert len(published) == rows, "a row was published twice"
    assert len(set(published)) == rows
    for i in range(2):
        share = REGISTRY.get_sample_value("events_published_total", {"service": f"two-relays-{i}"})
        assert share, f"relay {i} published nothing: the test did not exercise two relays"


async def test_commit_wakes_the_relay_without_waiting_for_the_poll(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="wake-test", poll_interval_s=60)
        relay.start()
        await asyncio.sleep(0.1)  # the relay is now asleep until woken or 60 s pass
        consumer = busapp.consumer(bus.js, bus.engine, "wake-applier")
        consumer.start()
        try:
            await write_pings(bus.engine, 1, wake=relay.wake)
            await wait_until(lambda: _all_applied(bus.engine, 1), timeout_s=10)
        finally:
            await consumer.stop()
            await relay.stop()


async def test_rows_handed_over_at_commit_are_published_and_marked_sent(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="handoff-test", poll_interval_s=60)
        relay.start()
        consumer = busapp.consumer(bus.js, bus.engine, "handoff-applier")
        consumer.start()
        try:
            await asyncio.sleep(0.1)  # caught up and asleep until woken or 60 s pass
            for n in range(20):
                async with UnitOfWork(bus.engine, producer="tasks", relay=relay) as uow:
                    uow.outbox.add(busapp.PingedV1(n=n))
                    await uow.commit()
            await wait_until(lambda: _all_applied(bus.engine, 20), timeout_s=10)
            await wait_until(lambda: _zero(unsent(bus.engine)), timeout_s=10)
        finally:
            await consumer.stop()
            await relay.stop()
        assert await applied(bus.engine) == (20, 20)
        info = await bus.js.stream_info("TASKS")
        assert info.state.messages == 20


async def test_handed_rows_are_marked_together_later_and_a_relay_dying_first_only_republishes(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    """A mark transaction per commit would double the service's write transactions: the
    marks wait (here: until asked), and a relay that dies with marks pending leaves rows
    that the next relay publishes again, which the stream drops by their ids."""
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="marks-test", poll_interval_s=60)
        relay.mark_delay_s = 3600  # a relay that dies before its next mark
        relay.start()
        consumer = busapp.consumer(bus.js, bus.engine, "marks-applier")
        consumer.start()
        try:
            await wait_until(lambda: _caught_up(relay))  # else the first rows are drained
            for n in range(20):
                async with UnitOfWork(bus.engine, producer="tasks", relay=relay) as uow:
                    uow.outbox.add(busapp.PingedV1(n=n))
                    await uow.commit()
            await wait_until(lambda: _all_applied(bus.engine, 20), timeout_s=10)
            assert await unsent(bus.engine) == 20  # published and acknowledged, not marked

            successor = Relay(bus.engine, bus.js, service="marks-test")
            try:
                assert await successor.drain_once() == 20  # published again ...
            finally:
                await successor.stop()
            assert await unsent(bus.engine) == 0
            await asyncio.sleep(0.3)  # room for a duplicate to reach the consumer
            info = await bus.js.stream_info("TASKS")
            assert info.state.messages == 20  # ... and dropped by the stream
            assert await applied(bus.engine) == (20, 20)
            assert await relay.flush_marks() == 20  # marking again is harmless
        finally:
            await consumer.stop()
            await relay.stop()


async def test_commits_handed_over_while_caught_up_are_never_read_back(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    """Handed-over rows go out as they are; reading the table again for them (a claim query
    per commit, as a wake-up left set by a handoff used to cause) is wasted work."""
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        claims = recorded_claims(bus.engine)
        relay = Relay(bus.engine, bus.js, service="no-read-back", poll_interval_s=60)
        relay.start()
        try:
            await wait_until(lambda: _caught_up(relay))
            claims.clear()
            for n in range(30):
                async with UnitOfWork(bus.engine, producer="tasks", relay=relay) as uow:
                    uow.outbox.add(busapp.PingedV1(n=n))
                    await uow.commit()
                if n % 3 == 0:
                    await asyncio.sleep(0)  # let the relay be mid-publish at some commits
            await wait_until(lambda: _zero(unsent(bus.engine)), timeout_s=10)
            read_back = len(claims)
        finally:
            await relay.stop()  # (which drains: a claim of its own)
        info = await bus.js.stream_info("TASKS")
        assert info.state.messages == 30
        assert read_back == 0


async def test_commits_during_a_drain_go_out_after_it_instead_of_starting_another(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    """A drain asked for (a wake-up) while commits keep coming: each commit during a drain
    used to ask for the next one, so a relay under steady traffic read back every row."""
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        claims = recorded_claims(bus.engine)
        relay = Relay(bus.engine, bus.js, service="drain-then-handoff", poll_interval_s=60)
        relay.start()
        try:
            await wait_until(lambda: _caught_up(relay))
            claims.clear()
            for n in range(40):
                if n == 10:
                    # A drain now finds rows (handed over, their marks not yet written), so
                    # it publishes and marks while the next commits come in.
                    relay.wake()
                async with UnitOfWork(bus.engine, producer="tasks", relay=relay) as uow:
                    uow.outbox.add(busapp.PingedV1(n=n))
                    await uow.commit()
            await wait_until(lambda: _zero(unsent(bus.engine)), timeout_s=10)
            read_back = len(claims)
        finally:
            await relay.stop()
        info = await bus.js.stream_info("TASKS")
        assert info.state.messages == 40  # every row once
        assert read_back <= 2  # the drain asked for (and at most one it overlapped)


async def test_backlog_metrics_follow_unsent_rows_and_sent_rows_are_pruned(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        relay = Relay(bus.engine, bus.js, service="backlog-test", retention=timedelta(0))
        await write_pings(bus.engine, 5, per_tx=5)
        count, age = await relay.refresh_metrics()
        assert count == 5
        assert age >= 0
        assert REGISTRY.get_sample_value("outbox_backlog", {"service": "backlog-test"}) == 5

        assert await relay.drain_once() == 5
        count, age = await relay.refresh_metrics()
        assert (count, age) == (0, 0.0)
        assert REGISTRY.get_sample_value("outbox_backlog", {"service": "backlog-test"}) == 0
        assert await relay.prune() == 5
        async with bus.engine.connect() as conn:
            left = (await conn.execute(select(func.count()).select_from(OUTBOX))).scalar_one()
        assert left == 0
        info = await bus.js.stream_info("TASKS")
        assert info.state.messages == 5
        await relay.stop()
