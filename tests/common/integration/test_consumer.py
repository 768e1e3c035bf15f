"""Durable consumers with an inbox: redelivery, retries with backoff, dead letters, replay."""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nats
import pytest
from common import busapp
from common.busapp import PingedV1, PingedV2, Proc, applied, open_bus, wait_until, write_pings
from prometheus_client import REGISTRY

from chore_common.bus.consumer import Unprocessable
from chore_common.bus.dlq import list_dead_letters
from chore_common.bus.publisher import publish
from chore_common.contracts.envelope import Envelope
from chore_common.outbox.relay import Relay
from chore_common.testing.nats import NatsServer
from chore_common.uow import UnitOfWork

pytestmark = pytest.mark.db

CHORE_EVENTS = str(Path(sys.executable).parent / "chore-events")


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_consumer_killed_between_commit_and_ack_gets_the_redelivery_as_a_no_op(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        async with Relay(bus.engine, bus.js, service="kill-consumer") as relay:
            await write_pings(bus.engine, 1)
            assert await relay.drain_once() == 1
        dying = await Proc(
            "consumer", "--db", database_url, "--nats", server.url,
            "--durable", "killed-after-commit", "--ack-wait", "1", "--die-after-commit",
        ).start()  # fmt: skip
        assert await dying.wait(20) == -9  # SIGKILLed itself right after its commit
        assert await applied(bus.engine) == (1, 1)

        survivor = busapp.consumer(bus.js, bus.engine, "killed-after-commit", ack_wait_s=1.0)
        survivor.start()
        labels = {"stream": "TASKS", "consumer": "killed-after-commit"}
        try:
            await wait_until(
                lambda: _at_least("events_consumed_total", 1, **labels, outcome="duplicate")
            )
        finally:
            await survivor.stop()
        assert await applied(bus.engine) == (1, 1), "the redelivery was applied again"
        assert metric("events_consumed_total", **labels, outcome="handled") == 0
        assert metric("events_redelivered_total", **labels) == 1


async def _at_least(name: str, value: float, **labels: str) -> bool:
    return metric(name, **labels) >= value


async def test_failing_handler_is_retried_with_growing_delays_then_dead_lettered_then_replayed(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        attempts: list[float] = []
        broken = True

        async def flaky(envelope: Envelope, payload: PingedV1, uow: UnitOfWork) -> None:
            attempts.append(time.monotonic())
            if broken:
                raise RuntimeError(f"cannot apply ping {payload.n}: widget jammed")
            await busapp.record(envelope, payload, uow)

        spec = busapp.spec("always-fails", max_deliver=3, backoff_s=(0.2, 0.4, 0.8))
        consumer = busapp.Consumer(bus.js, spec, lambda: UnitOfWork(bus.engine))
        consumer.on(PingedV1, flaky)
        consumer.start()
        relay = Relay(bus.engine, bus.js, service="dlq-test")
        try:
            await write_pings(bus.engine, 1, start=7)
            await relay.drain_once()
            await wait_until(lambda: _dead_letters(bus, 1))
            assert len(attempts) == 3, "tried max_deliver times"
            gaps = [b - a for a, b in itertools.pairwise(attempts)]
            assert gaps[0] >= 0.2
            assert gaps[1] >= 0.4, "the delay grows"
            (letter,) = await list_dead_letters(bus.js, stream="TASKS")
            assert letter.subject == "tasks.test.pinged"
            assert "widget jammed" in letter.error
            assert letter.reason == "max_deliver"
            assert letter.consumer == "always-fails"
            assert letter.headers.get("Nats-Msg-Id") == "dlq:always-fails:TASKS:1"
            labels = {"stream": "TASKS", "consumer": "always-fails", "reason": "max_deliver"}
            assert metric("events_dead_lettered_total", **labels) == 1

            listed = await _cli(server.url, "dlq", "list", "--json")
            assert [item["event_id"] for item in json.loads(listed)] == [letter.event_id]

            broken = False  # the fix is deployed
            out = await _cli(server.url, "dlq", "replay", "--subject", "tasks.test.pinged")
            assert "1 replayed" in out
            await wait_until(lambda: _applied_at_least(bus, 1))
            assert await list_dead_letters(bus.js) == []
        finally:
            await consumer.stop()
            await relay.stop()
    assert len(attempts) == 4


async def _dead_letters(bus: busapp.Bus, count: int) -> bool:
    return len(await list_dead_letters(bus.js)) >= count


async def _applied_at_least(bus: busapp.Bus, count: int) -> bool:
    return (await applied(bus.engine))[0] >= count


async def _cli(nats_url: str, *args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        CHORE_EVENTS, "--nats-url", nats_url, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return out.decode()


async def test_unknown_major_version_goes_straight_to_dead_letters(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        consumer = busapp.consumer(bus.js, bus.engine, "knows-v1-only")
        consumer.start()
        try:
            newer = Envelope.of(PingedV2(n=1, note="from the future"), "tasks")
            await publish(bus.js, newer)
            await wait_until(lambda: _dead_letters(bus, 1))
        finally:
            await consumer.stop()
        (letter,) = await list_dead_letters(bus.js)
        assert letter.reason == "unknown_version"
        assert letter.deliveries == 1
        assert letter.event_id == str(newer.id)
        assert "v2" in letter.error
        assert await applied(bus.engine) == (0, 0)


async def test_one_failing_event_in_a_batch_fails_alone(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:

        async def picky(envelope: Envelope, payload: PingedV1, uow: UnitOfWork) -> None:
            await busapp.record(envelope, payload, uow)
            if payload.n == 13:
                raise ValueError("unlucky")

        await write_pings(bus.engine, 50, per_tx=50)
        async with Relay(bus.engine, bus.js, service="batch-test") as relay:
            assert await relay.drain_once() == 50
        spec = busapp.spec("picky", max_deliver=2, backoff_s=(0.1,))
        consumer = busapp.Consumer(bus.js, spec, lambda: UnitOfWork(bus.engine))
        consumer.on(PingedV1, picky)
        consumer.start()
        try:
            await wait_until(lambda: _dead_letters(bus, 1))
        finally:
            await consumer.stop()
        assert await applied(bus.engine) == (49, 49)
        (letter,) = await list_dead_letters(bus.js)
        assert "unlucky" in letter.error


async def test_an_unprocessable_event_is_dead_lettered_at_once_and_alone(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:

        async def hopeless(envelope: Envelope, payload: PingedV1, uow: UnitOfWork) -> None:
            await busapp.record(envelope, payload, uow)
            if payload.n == 7:
                raise Unprocessable("template pinged.html: 'n' is undefined")

        await write_pings(bus.engine, 20, per_tx=20)
        async with Relay(bus.engine, bus.js, service="poison-test") as relay:
            assert await relay.drain_once() == 20
        # Retries would take minutes: an unprocessable event must not wait for them.
        spec = busapp.spec("hopeless", max_deliver=5, backoff_s=(600.0,))
        consumer = busapp.Consumer(bus.js, spec, lambda: UnitOfWork(bus.engine))
        consumer.on(PingedV1, hopeless)
        consumer.start()
        try:
            await wait_until(lambda: _dead_letters(bus, 1))
            await wait_until(lambda: _applied_at_least(bus, 19))
        finally:
            await consumer.stop()
        assert await applied(bus.engine) == (19, 19)
        (letter,) = await list_dead_letters(bus.js)
        assert (letter.reason, letter.deliveries) == ("unprocessable", 1)
        assert letter.error == "Unprocessable: template pinged.html: 'n' is undefined"


async def test_inbox_ids_older_than_the_retention_are_forgotten(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        async with Relay(bus.engine, bus.js, service="prune-test") as relay:
            await write_pings(bus.engine, 3, per_tx=3)
            assert await relay.drain_once() == 3
        keeper = busapp.consumer(bus.js, bus.engine, "keeps-a-week")
        forgetter = busapp.consumer(bus.js, bus.engine, "forgets-at-once", inbox_retention_s=0)
        for consumer in (keeper, forgetter):
            consumer.start()
        try:
            await wait_until(lambda: _applied_at_least(bus, 6))
        finally:
            for consumer in (keeper, forgetter):
                await consumer.stop()
        assert await keeper.prune_inbox() == 0
        assert await forgetter.prune_inbox() == 3
        assert await forgetter.prune_inbox() == 0


async def test_a_stopped_consumer_leaves_nothing_for_the_connection_drain_to_wait_for(
    nats_factory: Callable[[], NatsServer], database_url: str
) -> None:
    # Idle polls that time out (a late "request timeout" status each), then a stop that cancels
    # a poll mid-wait: what a service idle for a while does when it is told to stop.
    server = nats_factory()
    async with open_bus(server.url, database_url) as bus:
        nc = await nats.connect(server.url)  # nats-py's own drain limit: 30 s
        consumer = busapp.consumer(nc.jetstream(), bus.engine, "idle-then-stop", idle_fetch_s=0.3)
        consumer.start()
        await asyncio.sleep(2.0)
        await consumer.stop()
        drain = asyncio.ensure_future(nc.drain())
        done, _ = await asyncio.wait({drain}, timeout=5.0)
        if not done:
            await nc.close()
            drain.cancel()
        await asyncio.gather(drain, return_exceptions=True)
        assert done, "the drain waited on the consumer's subscription"
        assert nc.is_closed
